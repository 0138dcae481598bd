from django.contrib import admin

from kernel.models import AuditEntry, ModuleConfig, OutboxEvent


class ReadOnlyAdminMixin:
    """Rows written by services only (with audit): the admin shows them and changes nothing."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("at", "actor_label", "action", "target_type", "target_id")
    list_filter = ("action", "target_type")
    search_fields = ("actor_label", "target_id", "request_id")


@admin.register(ModuleConfig)
class ModuleConfigAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("module_key", "version", "created_by", "created_at", "note", "restored_from")
    list_filter = ("module_key",)


@admin.register(OutboxEvent)
class OutboxAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "topic", "delivered_at", "attempts", "last_error")
    list_filter = ("topic",)
