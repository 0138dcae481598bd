from django.conf import settings
from django.db import models

from kernel.roles import ScopeKind
from modules.notices.labels import category_label


class Notice(models.Model):
    title = models.CharField(max_length=120)
    body = models.TextField(max_length=20000)
    category = models.CharField(max_length=20)
    scope_kind = models.CharField(max_length=16, choices=ScopeKind.choices, default=ScopeKind.DISTRICT)
    scope_code = models.CharField(max_length=64, blank=True)
    pinned = models.BooleanField(default=False)
    published_at = models.DateTimeField(db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Filled by the outbox handler once the publication has been fanned out.
    audience_size = models.PositiveIntegerField(null=True, blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-pinned", "-published_at", "-id"]

    def __str__(self) -> str:
        return self.title

    @property
    def category_label(self) -> str:
        return category_label(self.category)
