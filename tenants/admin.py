from django.contrib import admin
from django.db import connection

from tenants.models import District, Domain


class PublicOnlyAdmin(admin.ModelAdmin):
    """For models of the public schema (districts, billing, onboarding): reachable on the platform
    site only. A district's search_path includes public, so without this a district admin
    (superuser of their own schema) would read every district's rows from their own /admin/."""

    @staticmethod
    def _public(request) -> bool:
        return connection.schema_name == "public"

    def has_module_permission(self, request):
        return self._public(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return self._public(request) and super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._public(request) and super().has_change_permission(request, obj)

    def has_add_permission(self, request):
        return self._public(request) and super().has_add_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self._public(request) and super().has_delete_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(District)
class DistrictAdmin(PublicOnlyAdmin):
    list_display = ("slug", "name_zh", "status", "schema_name", "created_at")
    list_filter = ("status",)
    search_fields = ("slug", "name_zh", "name_en")
    readonly_fields = ("schema_name", "status", "modules", "created_at", "status_changed_at")
    inlines = [DomainInline]

    def has_add_permission(self, request):
        return False  # use the create_district command or onboarding: they seed and audit

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # status, modules and branding change through tenants.services (audited)
