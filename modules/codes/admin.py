"""Django admin for district administrators: codes, binding requests, invitations and print runs are
shown here; changes go through the portal and the API (services), which audit them."""
from django.contrib import admin

from kernel.admin import ReadOnlyAdminMixin
from modules.codes.models import BindingRequest, Code, HouseholdInvite, PrintRun


class ReadOnly(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(Code)
class CodeAdmin(ReadOnly):
    list_display = ("id", "kind", "status", "household", "merchant", "official", "issued_at", "revoked_at")
    list_filter = ("kind", "status")
    search_fields = ("token",)
    raw_id_fields = ("household", "merchant", "official", "replaced_by")


@admin.register(BindingRequest)
class BindingRequestAdmin(ReadOnly):
    list_display = ("id", "name", "household", "status", "matched", "created_at", "decided_at", "decided_by")
    list_filter = ("status", "matched")
    exclude = ("id_number_encrypted",)
    readonly_fields = ("id_number_masked",)


@admin.register(HouseholdInvite)
class HouseholdInviteAdmin(ReadOnly):
    list_display = ("id", "household", "relation", "created_by", "created_at", "expires_at", "used_at")
    exclude = ("token",)


@admin.register(PrintRun)
class PrintRunAdmin(ReadOnly):
    list_display = ("id", "scope_kind", "scope_code", "scope_name", "status", "done", "total", "created_at")
    list_filter = ("status", "scope_kind")
