from django.contrib import admin

from .models import AuditEvent
from .selectors import audit_events_visible


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that shows records and never adds, changes or deletes one: what it lists is written by the
    services (pages and API), which validate and audit, or, for the audit trail itself, by nobody."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only, scoped to the staff user's subtree and role; nobody edits or deletes audit events."""

    list_display = ("at", "actor_username", "action", "object_type", "object_id", "org_path", "ip_address")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "object_id")
    show_full_result_count = False

    def get_queryset(self, request):
        return audit_events_visible(user=request.user)
