from django.contrib import admin

from .models import OrgUnit


@admin.register(OrgUnit)
class OrgUnitAdmin(admin.ModelAdmin):
    list_display = ("code", "name_fa", "name_en", "level", "population")
    list_filter = ("level",)
    search_fields = ("code", "name_fa", "name_en")
    readonly_fields = ("path",)
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
