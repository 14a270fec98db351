"""The Django admin for the registry is scoped like every other read: a staff user sees only their subtree,
and every object change goes through the admin's own save, which is audited here."""

from django.contrib import admin

from mahalle.accounts.selectors import personal_data_paths
from mahalle.audit.admin import ReadOnlyAdmin
from mahalle.audit.services import audit_record

from .models import Household, ImportJob, Person
from .selectors import import_jobs_visible


class JurisdictionScopedAdmin(ReadOnlyAdmin):
    """Edits go through the services (pages and API), which validate and audit."""

    def get_queryset(self, request):
        return super().get_queryset(request).within_any(personal_data_paths(user=request.user))

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff and request.user.can_read_personal_data

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = self.get_queryset(request).filter(pk=object_id).first()
        if obj is not None:
            audit_record(actor=request.user, action="read", obj=obj, details={"via": "admin"})
        return response


@admin.register(Person)
class PersonAdmin(JurisdictionScopedAdmin):
    list_display = ("last_name", "first_name", "national_code", "mobile", "org_unit")
    search_fields = ("national_code", "mobile", "last_name_key")
    list_select_related = ("org_unit",)
    show_full_result_count = False


@admin.register(Household)
class HouseholdAdmin(JurisdictionScopedAdmin):
    list_display = ("id", "address", "phone", "org_unit")
    list_select_related = ("org_unit",)
    show_full_result_count = False


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "file_name",
        "rows_done",
        "rows_created",
        "rows_invalid",
        "created_at",
    )

    def get_queryset(self, request):
        return import_jobs_visible(user=request.user)
