from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User
from kernel.models import RoleAssignment


class RoleInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0


@admin.register(User)
class MashangUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "phone_masked", "is_staff", "is_active")
    search_fields = ("username", "display_name")
    readonly_fields = ("phone_masked",)
    fieldsets = (
        (None, {"fields": ("username", "password", "display_name", "phone_masked")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    inlines = [RoleInline]
