from django.urls import path

from . import views

app_name = "needs"

urlpatterns = [
    path("", views.index, name="index"),
    path("lists/upload/", views.upload, name="upload"),
    path("lists/<int:list_id>/", views.list_detail, name="list_detail"),
    path("lists/<int:list_id>/progress/", views.list_progress, name="list_progress"),
    path("lists/<int:list_id>/link/", views.list_link, name="list_link"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/<int:pair_id>/", views.review_pair, name="review_pair"),
    path("review/<int:pair_id>/decide/", views.review_decide, name="review_decide"),
    path("persons/<uuid:person_id>/", views.golden_person, name="golden_person"),
    path("households/<uuid:household_id>/", views.golden_household, name="golden_household"),
    path("households/<uuid:household_id>/panel/", views.household_panel, name="household_panel"),
    path("records/<uuid:record_id>/split/", views.record_split, name="record_split"),
    path("supports/", views.supports, name="supports"),
]
