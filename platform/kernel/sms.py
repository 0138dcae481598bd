"""Pluggable SMS senders. ``settings.SMS_SENDER`` names the class; the default writes to the log."""
from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from kernel.personal import mask_phone

log = logging.getLogger("mashang.sms")


class SmsSender:
    def send(self, *, phone: str, text: str) -> None:  # phone is E.164
        raise NotImplementedError


class ConsoleSender(SmsSender):
    """Development sender: prints the message (with the number masked) to the console log."""

    def send(self, *, phone: str, text: str) -> None:
        log.info("SMS to %s: %s", mask_phone(phone), text)
        print(f"[sms] to {mask_phone(phone)}: {text}", flush=True)


class MemorySender(SmsSender):
    """Keeps messages in memory; for tests and demos."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        self.outbox.append((phone, text))


@lru_cache(maxsize=4)
def _sender(path: str) -> SmsSender:
    return import_string(path)()


def get_sender() -> SmsSender:
    return _sender(settings.SMS_SENDER)
