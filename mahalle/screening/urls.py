from django.urls import path

from . import views

app_name = "screening"

urlpatterns = [
    path("", views.index, name="index"),
    path("households/<uuid:household_id>/screen/", views.visit_form, name="visit_form"),
    path("visits/<uuid:visit_id>/", views.visit_detail, name="visit_detail"),
    path("coverage/", views.coverage, name="coverage"),
    path("rules/", views.rules, name="rules"),
]
