from django.urls import path

from . import views

app_name = "tracing"

urlpatterns = [
    path("", views.index, name="index"),
    path("clusters/", views.clusters, name="clusters"),
    path("cases/<uuid:case_id>/contacts/", views.case_contacts, name="case_contacts"),
    path("cases/<uuid:case_id>/contacts/household/", views.case_household, name="case_household"),
    path("cases/<uuid:case_id>/cluster/", views.case_cluster, name="case_cluster"),
    path("contacts/<uuid:contact_id>/confirm/", views.contact_confirm, name="contact_confirm"),
    path("contacts/<uuid:contact_id>/remove/", views.contact_remove, name="contact_remove"),
    path("contacts/<uuid:contact_id>/follow-up/", views.contact_follow_up, name="contact_follow_up"),
]
