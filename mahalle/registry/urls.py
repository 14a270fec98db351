from django.urls import path

from . import views

app_name = "registry"

urlpatterns = [
    path("persons/", views.person_search, name="person_search"),
    path("persons/new/", views.person_create, name="person_create"),
    path("persons/<uuid:person_id>/", views.person_detail, name="person_detail"),
    path("persons/<uuid:person_id>/edit/", views.person_edit, name="person_edit"),
    path("households/<uuid:household_id>/", views.household_detail, name="household_detail"),
]
