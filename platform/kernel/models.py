"""Kernel tables, present in every schema: audit log, outbox, role assignments, module configuration."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from kernel.roles import Role, ScopeKind


class JobStatus(models.TextChoices):
    """The states of every long piece of work that runs in Celery with visible progress
    (ledger imports, data audits, print runs)."""

    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class AuditEntry(models.Model):
    """Who did what to which thing, with the state before and after. Written by services only."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)  # kept if the user is deleted; "system" for tasks
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"])]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.target_type}:{self.target_id}"


class OutboxEvent(models.Model):
    """A domain event, written in the same transaction as the change that caused it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=80, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["created_at"], condition=Q(delivered_at__isnull=True), name="outbox_pending")]

    def __str__(self) -> str:
        return f"{self.topic} {self.id}"


class HandledEvent(models.Model):
    """Marks that one handler has processed one event: the relay's idempotency key."""

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="handled")
    handler = models.CharField(max_length=120)
    handled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="handled_event_once")]

    def __str__(self) -> str:
        return f"{self.handler} handled {self.event_id}"


class RoleAssignment(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=32, choices=Role.choices)
    scope_kind = models.CharField(max_length=16, choices=ScopeKind.choices, default=ScopeKind.DISTRICT)
    scope_code = models.CharField(max_length=64, blank=True, help_text="code of the street/community/grid/department")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user_id", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "scope_kind", "scope_code"], name="role_assignment_unique"),
            models.CheckConstraint(
                condition=Q(scope_kind="district", scope_code="") | (~Q(scope_kind="district") & ~Q(scope_code="")),
                name="role_scope_code_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        scope = "district" if self.scope_kind == ScopeKind.DISTRICT else f"{self.scope_kind}:{self.scope_code}"
        return f"{self.user} {self.role} @ {scope}"


class ModuleConfig(models.Model):
    """One version of a module's configuration in this district. The newest version is in force."""

    module_key = models.CharField(max_length=40)
    version = models.PositiveIntegerField()
    data = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["module_key", "-version"]
        constraints = [models.UniqueConstraint(fields=["module_key", "version"], name="module_config_version_unique")]

    def __str__(self) -> str:
        return f"{self.module_key} v{self.version}"
