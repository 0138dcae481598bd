from django.contrib import admin

from modules.notices.models import Notice


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ("title", "category", "scope_kind", "scope_code", "pinned", "published_at", "audience_size")
    list_filter = ("category", "pinned")
    readonly_fields = ("audience_size", "announced_at", "created_by")
