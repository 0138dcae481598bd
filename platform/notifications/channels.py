"""Senders behind one interface: ``send(message)`` delivers one Message on its channel or raises.

- inbox: the row in the portal inbox is the delivery; nothing to send.
- SMS: through the pluggable SMS sender (``kernel.sms``, ``settings.SMS_SENDER``).
- WeChat: a subscription message in the shape of the public API (``subscribeMessage.send``:
  touser, template_id, page, data {thing1: {value}}, miniprogram_state, lang), handed to the
  transport ``settings.WECHAT_TRANSPORT``. The default transport writes it to the log (no network
  here); a real one posts it with the mini-program's access token and raises on a non-zero errcode."""
from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from kernel.personal import decrypt
from kernel.sms import get_sender as sms_sender
from notifications.models import Channel, Message

log = logging.getLogger("mashang.notifications")


class Sender:
    channel: str

    def send(self, message: Message) -> None:
        raise NotImplementedError


class InboxSender(Sender):
    channel = Channel.INBOX

    def send(self, message: Message) -> None:
        """The inbox row is the message."""


class SmsSender(Sender):
    channel = Channel.SMS

    def send(self, message: Message) -> None:
        sms_sender().send(phone=decrypt(message.address_encrypted), text=message.data["text"])


# --- WeChat subscription messages ------------------------------------------------------------------

WECHAT_LANG = {"zh-hans": "zh_CN", "en": "en_US"}


def wechat_request(message: Message) -> dict:
    """The body of POST /cgi-bin/message/subscribe/send for ``message``."""
    templates = getattr(settings, "WECHAT_TEMPLATE_IDS", {}) or {}
    return {
        "touser": decrypt(message.address_encrypted),
        "template_id": templates.get(message.kind, message.kind),
        "page": message.data.get("page") or message.link,
        "data": message.data.get("fields", {}),
        "miniprogram_state": getattr(settings, "WECHAT_MINIPROGRAM_STATE", "formal"),
        "lang": WECHAT_LANG.get(message.language, "zh_CN"),
    }


class ConsoleWeChatTransport:
    """Development transport: logs the request (the openid shortened), sends nothing."""

    def post(self, request: dict) -> None:
        shown = {**request, "touser": request["touser"][:4] + "…"}
        log.info("WeChat subscription message %s", shown)


class MemoryWeChatTransport:
    """Keeps the requests; for tests and demos."""

    sent: list[dict] = []

    def post(self, request: dict) -> None:
        self.sent.append(request)


@lru_cache(maxsize=4)
def _transport(path: str):
    return import_string(path)()


class WeChatSender(Sender):
    channel = Channel.WECHAT

    def send(self, message: Message) -> None:
        _transport(getattr(settings, "WECHAT_TRANSPORT", "notifications.channels.ConsoleWeChatTransport")).post(
            wechat_request(message))


SENDERS: dict[str, Sender] = {s.channel: s for s in (InboxSender(), SmsSender(), WeChatSender())}


def sender(channel: str) -> Sender:
    return SENDERS[channel]
