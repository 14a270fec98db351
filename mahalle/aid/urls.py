from django.urls import path

from . import views

app_name = "aid"

urlpatterns = [
    path("", views.index, name="index"),
    path("programs/new/", views.program_new, name="program_new"),
    path("programs/<int:program_id>/", views.program_detail, name="program"),
    path("cycles/<int:cycle_id>/payments/", views.payments_export, name="payments_export"),
    path("cycles/<int:cycle_id>/payment-results/", views.payment_results, name="payment_results"),
    path("cycles/<int:cycle_id>/<slug:action>/", views.cycle_action, name="cycle_action"),
    path("entitlements/<int:entitlement_id>/decision/", views.entitlement_decide, name="entitlement_decide"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:entitlement_id>/", views.deliver, name="deliver"),
    path("loans/", views.loans, name="loans"),
    path("stock/", views.stock, name="stock"),
    path("stock/orders/<int:order_id>/execute/", views.transfer_order_execute, name="transfer_order_execute"),
    path("allocate/", views.allocate_page, name="allocate"),
]
