"""One run of the anti-gaming pass over the whole ledger (``integrity.scan``), as a job of the kernel's
runner (kernel.jobs): its status, who started it, and what it held, per rule."""
from __future__ import annotations

from django.conf import settings
from django.db import models

from kernel.models import JobStatus


class ScanRun(models.Model):
    Status = JobStatus

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="empty: the periodic pass")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life (kernel.jobs)")
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    checked = models.PositiveIntegerField(default=0, help_text="ratings looked at")
    held = models.PositiveIntegerField(default=0, help_text="counted ratings it held for review")
    counts = models.JSONField(default=dict, blank=True, help_text="{rule: ratings it matched}")
    seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ratings scan {self.pk} ({self.status})"
