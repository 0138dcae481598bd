"""What follows a rating: the callback of a bad one (回访), the subject's appeal, the merchant's reply.

- ``FollowUp``: one per bad rating. Opened with the rating; the unit's follow-up case (in the cases
  module, opened through the ``ratings.bad_rating`` event) is linked when ``cases.follow_up_opened``
  comes back. The unit calls the rater back and records the outcome.
- ``Appeal``: the subject thinks a rating malicious; a reviewer upholds (the rating is ``removed``) or
  dismisses it, with reasons. One open appeal per rating.
- ``Reply``: a merchant's public answer to a rating of theirs (one per rating, editable)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

NOTE_MAX = 1000


class FollowUp(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("awaiting callback")
        DONE = "done", _("called back")

    class Outcome(models.TextChoices):
        FIXED_NOW = "fixed_now", _("fixed at once")
        FIXED_BY_DEADLINE = "fixed_by_deadline", _("to be fixed by a deadline")
        EXPLAINED = "explained", _("explained")

    rating = models.OneToOneField("ratings.Rating", on_delete=models.PROTECT, related_name="follow_up")
    unit_kind = models.CharField(max_length=16, blank=True, help_text="the unit that follows up: department/grid/…")
    unit_code = models.CharField(max_length=40, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True, help_text="the follow-up case (cases.Case)")
    case_ref = models.CharField(max_length=32, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, help_text="the district's deadline, on its calendar")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    fix_by = models.DateField(null=True, blank=True, help_text="fixed_by_deadline: the promised date")
    reached = models.BooleanField(null=True, help_text="the rater was reached on the call")
    note = models.TextField(max_length=NOTE_MAX, blank=True)
    called_at = models.DateTimeField(null=True, blank=True)
    called_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+")
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["status", "due_at", "id"]
        indexes = [models.Index(fields=["status", "due_at"], name="ratings_followup_due")]
        constraints = [
            models.CheckConstraint(condition=Q(status="open") | (Q(outcome__gt="") & Q(called_at__isnull=False)),
                                   name="ratings_followup_done_has_outcome"),
            models.CheckConstraint(condition=~Q(outcome="fixed_by_deadline") | Q(fix_by__isnull=False),
                                   name="ratings_followup_deadline_has_date"),
        ]

    def __str__(self) -> str:
        return f"follow-up of rating {self.rating_id}: {self.status}"


class Appeal(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        UPHELD = "upheld", _("upheld")
        DISMISSED = "dismissed", _("dismissed")

    rating = models.ForeignKey("ratings.Rating", on_delete=models.PROTECT, related_name="appeals")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.TextField(max_length=NOTE_MAX)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(max_length=NOTE_MAX, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rating"], condition=Q(status="pending"), name="ratings_one_open_appeal"),
            models.CheckConstraint(condition=Q(status="pending") | (Q(decision_reason__gt="")
                                                                    & Q(decided_at__isnull=False)),
                                   name="ratings_appeal_decided_with_reason"),
        ]

    def __str__(self) -> str:
        return f"appeal of rating {self.rating_id}: {self.status}"


class Reply(models.Model):
    rating = models.OneToOneField("ratings.Rating", on_delete=models.CASCADE, related_name="reply")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.TextField(max_length=NOTE_MAX)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"reply to rating {self.rating_id}"
