"""What the points module tells residents through the notification service: an award or a deduction
with its reason and balance, and the committee's decision on an appeal."""
from __future__ import annotations

import pytest

from kernel.events import relay_pending
from modules.points.committee import appeals
from modules.points.ledger import services
from notifications.models import Message

pytestmark = pytest.mark.django_db


def test_an_award_and_a_deduction_carry_the_reason(in_district):
    w = in_district
    services.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=5, reason="帮邻居修水管")
    services.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-1, reason="乱扔垃圾袋")
    relay_pending()
    award = Message.objects.get(recipient=w.res_user, channel="inbox", kind="points.awarded")
    deduction = Message.objects.get(recipient=w.res_user, channel="inbox", kind="points.deducted")
    assert "帮邻居修水管" in award.body and "5" in award.title and award.link == "/points/"
    assert "乱扔垃圾袋" in deduction.body and "4" in deduction.body  # the balance after it


def test_the_resident_hears_the_appeal_decision(in_district):
    w = in_district
    entry = services.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-1, reason="乱扔垃圾")
    appeal = appeals.file_appeal(actor=w.res_user, entry=entry, reason="那天我不在家")
    appeals.refuse_appeal(actor=w.m1, appeal=appeal, reason="有照片为证")
    relay_pending()
    (message,) = Message.objects.filter(recipient=w.res_user, channel="inbox", kind="points.appeal_refused")
    assert "有照片为证" in message.body and "乱扔垃圾" in message.body
