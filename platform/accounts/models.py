"""Users. The table exists in public (platform staff: vendors, ops) and in each district schema
(that district's own people), so a person of one district does not exist in another."""
from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from kernel.personal import decrypt, mask_phone


class User(AbstractUser):
    display_name = models.CharField(max_length=80, blank=True)
    phone_encrypted = models.TextField(blank=True)
    phone_index = models.CharField(max_length=64, null=True, blank=True, editable=False)
    preferred_language = models.CharField(max_length=8, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["phone_index"], condition=Q(phone_index__isnull=False),
                                    name="user_phone_index_unique")
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def phone(self) -> str:
        return decrypt(self.phone_encrypted) if self.phone_encrypted else ""

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone_encrypted else ""


class OneTimeCode(models.Model):
    """A sign-in code sent by SMS. Only its keyed hash is stored; it works once, for a short time."""

    phone_index = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    superseded = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"one-time code {self.pk} ({'used' if self.used_at else 'open'})"


class SignInLock(models.Model):
    """Failed password sign-ins of one account, counted in the database (not only the cache), so a
    cache outage can't lift a lockout. After ``SIGNIN_MAX_FAILURES`` failures the account is locked
    until ``locked_until``; a successful sign-in clears the count."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="sign_in_lock")
    failures = models.PositiveSmallIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sign-in lock of user {self.user_id} ({self.failures} failures)"


class Invitation(models.Model):
    """A one-time link that lets a person set their password (the district's first administrator).
    Only a keyed hash of the token is stored; it works once, until ``expires_at``; issuing a new one
    for the same user supersedes the open ones (accounts.invitations)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="invitations")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    superseded = models.BooleanField(default=False)
    issued_by = models.CharField(max_length=150, blank=True)  # who asked for it (a vendor, ops, "system")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "invitation"

    def __str__(self) -> str:
        return f"invitation {self.pk} of user {self.user_id} ({'used' if self.used_at else 'open'})"
