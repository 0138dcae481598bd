"""Release runs: one ``migrate_all`` (every schema) or one retry (one district's schema), and the outcome
of each schema in it. Public schema (models of the ``tenants`` app, imported at the end of
tenants/models.py). A run is a job of the kernel job runner (``status``, ``error``, ``started_at``,
``heartbeat_at``): a retry runs in a Celery worker through ``kernel.jobs.run``; ``migrate_all`` runs
in the foreground of the deploy and records itself the same way."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from kernel.models import JobStatus


class ReleaseRun(models.Model):
    class Kind(models.TextChoices):
        ALL = "all", _("every schema")
        RETRY = "retry", _("retry of one district")

    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    executor = models.CharField(max_length=20, default="multiprocessing")
    processes = models.PositiveSmallIntegerField(default=1)
    # A retry: the schema it migrates (with the person who asked and why).
    schema_name = models.CharField(max_length=63, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    reason = models.CharField(max_length=500, blank=True)
    # The code's migration leaves when the run started: {app: [name, ...]}.
    code_leaves = models.JSONField(default=dict, blank=True)
    shared_seconds = models.FloatField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    ok = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(kind="all") | ~models.Q(schema_name=""),
                                   name="release_retry_names_its_schema"),
        ]

    def __str__(self) -> str:
        return f"release {self.pk} ({self.kind}{': ' + self.schema_name if self.schema_name else ''})"


class ReleaseOutcome(models.Model):
    """What one run did to one schema: ok, or failed with the error in words, how long it took, and
    the schema's migration state afterwards ({app: latest applied migration})."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        OK = "ok", _("migrated")
        FAILED = "failed", _("failed")

    run = models.ForeignKey(ReleaseRun, on_delete=models.CASCADE, related_name="outcomes")
    schema_name = models.CharField(max_length=63)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    seconds = models.FloatField(null=True, blank=True)
    applied = models.JSONField(default=dict, blank=True)
    behind = models.PositiveIntegerField(default=0, help_text="migrations of the code still unapplied after the run")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "schema_name"]
        constraints = [models.UniqueConstraint(fields=["run", "schema_name"], name="release_outcome_once")]
        indexes = [models.Index(fields=["schema_name", "-id"], name="release_outcome_latest")]

    def __str__(self) -> str:
        return f"{self.schema_name}: {self.status}"
