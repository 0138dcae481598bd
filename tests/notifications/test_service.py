"""The notification service itself: one message per event, person and channel; quiet hours hold SMS
(never the inbox); renderings in zh-Hans and English; WeChat in the public API's shape; the inbox
page and API show a person only their own messages"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel import events
from kernel.sms import MemorySender
from notifications import kinds, services
from notifications.channels import MemoryWeChatTransport
from notifications.models import Message
from notifications.services import Note, notify, to_user
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db
WORDS = {"ref": "KAN-20261207-0007", "case_title": "楼道堆物", "category": "楼道堆物"}


def _event():
    return events.publish("test.notifications", {})


def _send(user, kind="cases.accepted", words=WORDS, event=None):
    with transaction.atomic():
        event = event or _event()
        notify(event=event, kind=kind, notes=[Note(to_user(user), dict(words), "/cases/KAN-20261207-0007/")])
    return event


@pytest.fixture
def person(kangbashi):
    user = make_user(kangbashi, "n-person", "resident", phone="13700001111")
    connection.set_tenant(kangbashi)
    return user


def test_one_message_per_event_person_and_channel(person):
    services.save_preferences(actor=person, channels={"cases": ["sms"]})
    event = _send(person)
    _send(person, event=event)  # the handler ran twice for one event
    assert sorted(Message.objects.filter(recipient=person).values_list("channel", flat=True)) == ["inbox", "sms"]
    _send(person)  # another event: another message
    assert Message.objects.filter(recipient=person, channel="inbox").count() == 2


def test_quiet_hours_hold_sms_but_not_the_inbox(person):
    local = timezone.now().astimezone(ZoneInfo("Asia/Shanghai"))
    start, end = (local - dt.timedelta(hours=1)).time(), (local + dt.timedelta(hours=1)).time().replace(second=0,
                                                                                                       microsecond=0)
    services.save_preferences(actor=person, channels={"cases": ["sms"]}, quiet_start=start, quiet_end=end)
    _send(person)
    inbox = Message.objects.get(recipient=person, channel="inbox")
    sms = Message.objects.get(recipient=person, channel="sms")
    assert inbox.status == "sent" and sms.status == "pending" and sms.send_after > timezone.now()
    assert services.deliver_due() == 0 and MemorySender.outbox == []  # held
    assert services.deliver_due(now=sms.send_after) == 1
    ((phone, text),) = MemorySender.outbox
    assert phone == "+8613700001111" and "KAN-20261207-0007" in text
    assert services.deliver_due(now=sms.send_after) == 0  # sent once


def test_quiet_hours_over_midnight():
    tz = ZoneInfo("Asia/Shanghai")
    late = dt.datetime(2026, 12, 7, 23, 30, tzinfo=tz)
    until = services.quiet_until(dt.time(22, 0), dt.time(7, 0), late)
    assert until == dt.datetime(2026, 12, 8, 7, 0, tzinfo=tz)
    assert services.quiet_until(dt.time(22, 0), dt.time(7, 0), late.replace(hour=12)) is None


def test_zh_hans_and_english_renderings(person, kangbashi):
    english = make_user(kangbashi, "n-english", "resident")
    connection.set_tenant(kangbashi)
    english.preferred_language = "en"
    english.save(update_fields=["preferred_language"])
    event = _send(person)
    _send(english, event=event)
    zh = Message.objects.get(recipient=person, channel="inbox")
    en = Message.objects.get(recipient=english, channel="inbox")
    assert (zh.language, en.language) == ("zh-hans", "en")
    assert en.title == "Your report KAN-20261207-0007 was accepted"
    assert zh.title == "您反映的问题 KAN-20261207-0007 已受理"
    rendered = kinds.render("cases.pooled", {**WORDS, "category": kinds.Bilingual("楼道堆物", "Corridor clutter")},
                            "en")
    assert "Corridor clutter" in rendered.body
    assert "楼道堆物（楼道堆物）" in kinds.render("cases.pooled", WORDS, "zh-hans").body


def test_wechat_subscription_message_has_the_public_api_shape(person, settings):
    settings.WECHAT_TRANSPORT = "notifications.channels.MemoryWeChatTransport"
    MemoryWeChatTransport.sent.clear()
    services.bind_wechat(actor=person, openid="oX1234567890abcdef")
    _send(person, words={**WORDS, "case_title": "一个非常非常长的标题，超过了微信订阅消息二十个字的限制"})
    assert services.deliver_due() == 1
    (request,) = MemoryWeChatTransport.sent
    assert request["touser"] == "oX1234567890abcdef" and request["template_id"] == "cases.accepted"
    assert request["page"] == "/cases/KAN-20261207-0007/" and request["lang"] == "zh_CN"
    assert request["data"]["character_string1"] == {"value": "KAN-20261207-0007"}
    assert len(request["data"]["thing2"]["value"]) <= 20 and request["data"]["thing2"]["value"].endswith("…")
    stored = Message.objects.get(recipient=person, channel="wechat")
    assert "oX1234567890abcdef" not in stored.address_encrypted  # kept encrypted


def test_a_failing_provider_is_retried_then_given_up(kangbashi, settings):
    settings.SMS_SENDER = "tests.points.conftest.FlakySender"
    other = make_user(kangbashi, "n-flaky", "resident", phone="13700001113")  # ends in 3: refused
    connection.set_tenant(kangbashi)
    services.save_preferences(actor=other, channels={"cases": ["sms"]})
    _send(other)
    sms = Message.objects.get(recipient=other, channel="sms")
    now = timezone.now()
    for _attempt in range(services.MAX_ATTEMPTS):
        services.deliver_due(now=now)
        sms.refresh_from_db()
        now = sms.send_after
    assert sms.status == "failed" and sms.attempts == services.MAX_ATTEMPTS


def test_another_person_cannot_read_or_mark_my_messages(person, kangbashi):
    stranger = make_user(kangbashi, "n-stranger", "resident")
    connection.set_tenant(kangbashi)
    _send(person)
    mine = Message.objects.get(recipient=person, channel="inbox")
    connection.set_schema_to_public()
    api = client_for(kangbashi, stranger)
    assert api.get("/api/v1/me/messages/").json()["results"] == []
    response = api.post(f"/api/v1/me/messages/{mine.pk}/read/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.post(f"/messages/{mine.pk}/read/").status_code == 404
    assert api.post(f"/messages/{mine.pk}/open/").status_code == 404
    with tenant_context(kangbashi):
        assert Message.objects.get(pk=mine.pk).read_at is None


def test_the_inbox_api_lists_filters_counts_and_marks(person, kangbashi):
    _send(person)
    _send(person, kind="cases.resolved", words={**WORDS, "result": "已清理"})
    connection.set_schema_to_public()
    api = client_for(kangbashi, person)
    listed = api.get("/api/v1/me/messages/?unread=true").json()
    assert listed["count"] == 2 and {m["kind"] for m in listed["results"]} == {"cases.accepted", "cases.resolved"}
    assert api.get("/api/v1/me/messages/unread-count/").json() == {"unread": 2}
    first = listed["results"][0]["id"]
    marked = api.post(f"/api/v1/me/messages/{first}/read/").json()
    assert marked["read"] is True and marked["read_at"]
    assert api.get("/api/v1/me/messages/unread-count/").json() == {"unread": 1}
    assert api.get("/api/v1/me/messages/?unread=false").json()["count"] == 1
    assert api.get("/api/v1/me/messages/?unread=maybe").status_code == 400
    assert api.post("/api/v1/me/messages/read-all/").json() == {"marked": 1}
    assert api.get("/api/v1/me/messages/unread-count/").json() == {"unread": 0}


def test_preferences_through_the_api(person, kangbashi):
    connection.set_schema_to_public()
    api = client_for(kangbashi, person)
    got = api.get("/api/v1/me/messages/preferences/").json()
    assert {g["key"] for g in got["groups"]} >= {"cases", "work", "supervision", "points", "household"}
    changed = api.patch("/api/v1/me/messages/preferences/", {"channels": {"cases": ["sms"]},
                                                           "quiet_start": "22:00", "quiet_end": "07:00"},
                        format="json").json()
    assert next(g for g in changed["groups"] if g["key"] == "cases")["channels"] == ["sms"]
    assert (changed["quiet_start"], changed["quiet_end"]) == ("22:00:00", "07:00:00")
    bad = api.patch("/api/v1/me/messages/preferences/", {"channels": {"cases": ["fax"]}}, format="json")
    assert bad.status_code == 400 and "error" in bad.json()
    half = api.patch("/api/v1/me/messages/preferences/", {"quiet_start": None}, format="json")
    assert half.status_code == 400
    unknown = api.patch("/api/v1/me/messages/preferences/", {"channels": {"nope": []}}, format="json")
    assert unknown.status_code == 400


def test_the_inbox_page_shows_the_count_and_opens_the_link(person, kangbashi):
    _send(person)
    connection.set_schema_to_public()
    page = client_for(kangbashi, person)
    html = page.get("/messages/").content.decode()
    assert 'data-testid="unread-count">1<' in html and "KAN-20261207-0007" in html
    with tenant_context(kangbashi):
        mine = Message.objects.get(recipient=person, channel="inbox")
    opened = page.post(f"/messages/{mine.pk}/open/")
    assert opened.status_code == 302 and opened["Location"] == "/cases/KAN-20261207-0007/"
    assert 'data-testid="unread-count"' not in page.get("/messages/").content.decode()
    saved = page.post("/messages/preferences/", {"cases:sms": "1", "quiet_start": "22:00", "quiet_end": "07:00"})
    assert saved.status_code == 302
    assert page.post("/messages/preferences/", {"quiet_start": "22:00"}).status_code == 400
