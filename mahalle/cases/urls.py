from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("", views.index, name="index"),
    path("<uuid:case_id>/", views.case_detail, name="case_detail"),
    path("<uuid:case_id>/classification/", views.case_classify, name="case_classify"),
    path("isolations/<uuid:isolation_id>/follow-up/", views.follow_up, name="follow_up"),
    path("test-orders/<uuid:order_id>/sample/", views.order_sample, name="order_sample"),
    path("test-orders/<uuid:order_id>/result/", views.order_result, name="order_result"),
    path("alerts/<uuid:alert_id>/resolve/", views.alert_resolve, name="alert_resolve"),
]
