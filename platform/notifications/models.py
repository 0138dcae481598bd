"""Messages and each person's notification preferences (tenant schema: a district's own people).

One row per event, person and channel: the unique constraint makes a doubled outbox relay (or a
handler run twice) create nothing new. The inbox row is the delivery; an SMS or WeChat row waits
in ``pending`` until a worker sends it (``send_after``: quiet hours, retry back-off)."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    INBOX = "inbox", _("portal inbox")
    SMS = "sms", _("text message")
    WECHAT = "wechat", _("WeChat")


class Message(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("waiting to be sent")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    event_id = models.UUIDField(help_text="the outbox event that caused the message")
    kind = models.CharField(max_length=80, help_text="notification kind, e.g. cases.accepted")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="messages")
    # "u<user id>" or, for a person without an account (a ledger resident), "r<resident id>"
    recipient_key = models.CharField(max_length=40)
    address_encrypted = models.TextField(blank=True, help_text="phone or WeChat openid, encrypted (kernel.personal)")
    language = models.CharField(max_length=8)
    title = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True, help_text="WeChat: the subscription message's data")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    send_after = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event_id", "recipient_key", "channel"], name="message_once_per_event"),
            models.CheckConstraint(condition=~Q(channel="inbox") | Q(recipient__isnull=False),
                                   name="message_inbox_has_recipient"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], condition=Q(channel="inbox"), name="message_inbox"),
            models.Index(fields=["recipient"], condition=Q(channel="inbox", read_at__isnull=True),
                         name="message_unread"),
            models.Index(fields=["send_after"], condition=Q(status="pending"), name="message_due"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} to {self.recipient_key}"


class Preference(models.Model):
    """Which channels besides the inbox a person wants per group of messages, and their quiet hours."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="notification_preference")
    channels = models.JSONField(default=dict, blank=True, help_text='group -> extra channels, e.g. {"cases": ["sms"]}')
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    wechat_openid_encrypted = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of user {self.user_id}"
