from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.index, name="index"),
    path("<uuid:case_id>/", views.case_detail, name="case_detail"),
    path("<uuid:case_id>/classification/", views.case_classify, name="case_classify"),
    path("<uuid:case_id>/isolation/", views.isolation_start, name="isolation_start"),
    path("<uuid:case_id>/isolation/release/", views.isolation_release, name="isolation_release"),
    path("<uuid:case_id>/hospitalisation/", views.case_hospitalisation, name="case_hospitalisation"),
    path("<uuid:case_id>/outcome/", views.case_outcome, name="case_outcome"),
    path("places/", views.places, name="places"),
    path("isolations/<uuid:isolation_id>/follow-up/", views.follow_up, name="follow_up"),
    path("test-orders/<uuid:order_id>/sample/", views.order_sample, name="order_sample"),
    path("test-orders/<uuid:order_id>/result/", views.order_result, name="order_result"),
    path("alerts/<uuid:alert_id>/resolve/", views.alert_resolve, name="alert_resolve"),
]
