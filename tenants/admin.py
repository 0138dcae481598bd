from django.contrib import admin
from django.db import connection

from tenants.models import District, Domain


class PublicOnlyAdmin(admin.ModelAdmin):
    """District rows are managed on the platform site only."""

    def has_module_permission(self, request):
        return connection.schema_name == "public" and super().has_module_permission(request)


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
