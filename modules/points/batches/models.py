"""Models of award batches: one rule for many residents, numbered targets, progress (kernel.jobs)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus
from modules.points.ledger.models import REASON_MAX, Rule, RuleVersion
from modules.registry.models import Resident


class Batch(models.Model):
    """One rule awarded to many residents (e.g. 19,747 residents +5). Runs in Celery in chunks; each
    chunk is one transaction that posts its entries, updates the balances and the progress."""

    class Status(models.TextChoices):
        AWAITING = "awaiting", _("waiting for the committee")
        REJECTED = "rejected", _("rejected")
        QUEUED = JobStatus.QUEUED.value, JobStatus.QUEUED.label
        RUNNING = JobStatus.RUNNING.value, JobStatus.RUNNING.label
        DONE = JobStatus.DONE.value, JobStatus.DONE.label
        FAILED = JobStatus.FAILED.value, JobStatus.FAILED.label

    title = models.CharField(max_length=120)
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="+")
    rule_version = models.ForeignKey(RuleVersion, on_delete=models.PROTECT, related_name="+",
                                     help_text="the version the entries are posted under")
    points = models.IntegerField(help_text="signed, per resident")
    occurred_on = models.DateField()
    reason = models.CharField(max_length=REASON_MAX)
    evidence = models.TextField(blank=True)
    target_source = models.CharField(max_length=40, help_text="how the residents were chosen")
    target_params = models.JSONField(default=dict, blank=True, help_text="never personal numbers")
    target_count = models.PositiveIntegerField(default=0)
    unknown_count = models.PositiveIntegerField(default=0, help_text="listed people not found in the registry")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    chunk_size = models.PositiveIntegerField(default=2000)
    progress_done = models.PositiveIntegerField(default=0, help_text="targets processed (committed chunks)")
    posted_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0, help_text="over the rule's cap, or already posted")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the running job (kernel.jobs)")
    # sms_cursor / sms_sent / sms_failed / sms_done: no longer written since texts go through the notification
    # service (counts: batches.selectors.sms_counts); kept until a later release drops them (expand, then
    # contract: code still running during a deploy may read them).
    sms_cursor = models.BigIntegerField(default=0, help_text="last entry id notified by SMS")
    sms_sent = models.PositiveIntegerField(default=0)
    sms_failed = models.PositiveIntegerField(default=0)
    sms_done = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True, unique=True,
                                       help_text="kernel.idempotency.stored_key of the client's key")
    idempotency_fingerprint = models.CharField(max_length=64, null=True, blank=True,
                                               help_text="kernel.idempotency.fingerprint of the request")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"
        constraints = [
            models.CheckConstraint(condition=~Q(points=0), name="points_batch_not_zero"),
            models.CheckConstraint(condition=Q(chunk_size__gte=1), name="points_batch_chunk"),
            models.CheckConstraint(condition=Q(progress_done__lte=F("target_count")), name="points_batch_progress"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.title} ({self.status})"


class BatchTarget(models.Model):
    """One resident of a batch, numbered in order (``seq`` from 0) so chunks are ranges."""

    id = models.BigAutoField(primary_key=True)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="targets", db_index=False)
    seq = models.PositiveIntegerField()
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, related_name="+", db_index=False)

    class Meta:
        ordering = ["batch_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "seq"], name="points_target_seq"),
            models.UniqueConstraint(fields=["batch", "resident"], name="points_target_once"),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} #{self.seq}: {self.resident_id}"
