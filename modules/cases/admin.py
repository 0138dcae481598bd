"""Django admin of the cases module: reference data is editable; cases and the published
responsibility lists are read-only here (they change through services, with audit and timeline)."""
from django.contrib import admin

from kernel.admin import ReadOnlyAdminMixin
from modules.cases.models import (
    Case,
    CaseEvent,
    Category,
    Holiday,
    Integration,
    ResponsibilityItem,
    ResponsibilityList,
    WebhookDelivery,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name_zh", "name_en", "assign_mode", "active")
    list_filter = ("assign_mode", "active")


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ("date", "is_working_day", "name")
    list_filter = ("is_working_day",)
    date_hierarchy = "date"


class ItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ResponsibilityItem
    extra = 0


@admin.register(ResponsibilityList)
class ResponsibilityListAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("version", "is_current", "published_at", "published_by", "note")
    inlines = [ItemInline]


class EventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CaseEvent
    extra = 0
    fields = ("at", "actor", "kind", "from_status", "to_status", "note")


@admin.register(Case)
class CaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("ref", "title", "channel", "category", "status", "assignee", "owner_level", "resolution_due")
    list_filter = ("status", "channel", "category", "owner_level")
    search_fields = ("ref", "title")
    exclude = ("reporter_contact_encrypted", "reporter_contact_index")
    inlines = [EventInline]


@admin.register(Integration)
class IntegrationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys and secrets are made, rotated and shown through the integrations API (audited), never here."""

    list_display = ("name", "kind", "key_prefix", "webhook_url", "active", "last_used_at")
    list_filter = ("kind", "active")
    exclude = ("key_hash", "webhook_secret_encrypted")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "integration", "case", "kind", "status", "attempts", "last_status_code",
                    "next_attempt_at")
    list_filter = ("status", "kind", "integration")
    search_fields = ("event_id", "case__ref", "case__external_id")
    raw_id_fields = ("case",)
