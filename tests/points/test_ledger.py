"""The ledger: every rule constraint (sign, range, dates, evidence, caps), who may post, idempotency,
corrections by reversing entries, and the append-only table (the database refuses UPDATE/DELETE).
After every test, each balance equals the sum of its entries (``in_district``)."""
import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection, transaction

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from kernel.sms import MemorySender
from modules.points.ledger import rules as rulebook
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.models import Balance, Entry, LedgerIsAppendOnly
from tests.points.conftest import set_points_config, today

pytestmark = pytest.mark.django_db


def post(w, rule="t_good", points=5, resident=None, actor=None, **kw):
    kw.setdefault("reason", "测试")
    return ledger.post_entry(actor=actor or w.staff, resident=resident or w.r1, rule=rule, points=points, **kw)


def balance(resident, kind="civic"):
    return Balance.objects.filter(resident=resident, kind=kind).values_list("points", flat=True).first() or 0


def code_of(call):
    with pytest.raises(DomainError) as err:
        call()
    return err.value.code


# --- rule constraints --------------------------------------------------------------------------------

def test_a_posting_within_the_rule_adds_to_the_balance(in_district):
    w = in_district
    entry = post(w, points=5, reason="帮邻居修水管", evidence="邻居证明")
    assert (entry.points, entry.kind, entry.source_kind, entry.posted_by, entry.rule_version.version) == (
        5, "civic", "manual", w.staff, 1)
    assert balance(w.r1) == 5
    post(w, rule="t_litter", points=-2)
    assert balance(w.r1) == 3
    assert AuditEntry.objects.filter(action="points.post", target_id=str(entry.pk)).count() == 1
    assert selectors.balances(w.r1) == {"civic": 3}


def test_the_sign_must_match_the_direction(in_district):
    w = in_district
    assert code_of(lambda: post(w, rule="t_litter", points=2)) == "wrong_sign"
    assert code_of(lambda: post(w, rule="t_good", points=-5)) == "wrong_sign"
    assert code_of(lambda: post(w, points=0)) == "invalid_points"
    assert not Entry.objects.exists() or balance(w.r1) == 0


@pytest.mark.parametrize("points", [1, 101])
def test_points_outside_the_range_are_refused(in_district, points):
    w = in_district
    assert code_of(lambda: post(w, rule="t_good", points=points)) == "out_of_range"
    assert code_of(lambda: post(w, rule="t_litter", points=-4)) == "out_of_range"
    post(w, rule="t_good", points=2)
    post(w, rule="t_good", points=100)
    assert balance(w.r1) == 102


def test_a_rule_applies_only_between_its_dates(in_district):
    w = in_district
    day = today()
    rulebook.revise_rule(actor=w.admin, rule="t_good", effective_from=day - dt.timedelta(days=10),
                         effective_to=day - dt.timedelta(days=1))
    assert code_of(lambda: post(w)) == "not_in_force"
    assert code_of(lambda: post(w, occurred_on=day - dt.timedelta(days=11))) == "not_in_force"
    post(w, occurred_on=day - dt.timedelta(days=5))  # the deed happened while the rule was in force
    assert code_of(lambda: post(w, rule="t_litter", points=-1, occurred_on=day + dt.timedelta(days=1))) == (
        "future_date")
    assert balance(w.r1) == 5


def test_evidence_when_the_rule_asks_for_it(in_district):
    w = in_district
    assert code_of(lambda: post(w, rule="t_evidence", points=3)) == "evidence_required"
    assert code_of(lambda: post(w, rule="t_evidence", points=3, evidence="   ")) == "evidence_required"
    post(w, rule="t_evidence", points=3, evidence="社区出具的证明")
    photo = SimpleUploadedFile("证明.jpg", b"\xff\xd8\xff fake jpeg", content_type="image/jpeg")
    entry = post(w, rule="t_evidence", points=3, evidence_file=photo)
    assert entry.evidence_file.name.startswith("points/evidence/") and "证明" not in entry.evidence_file.name
    assert balance(w.r1) == 6


def test_a_reason_is_required(in_district):
    w = in_district
    with pytest.raises(DomainError) as err:
        post(w, reason=" ")
    assert "reason" in err.value.fields


def test_cap_on_postings_per_day(in_district):
    w = in_district
    day = today()
    post(w, rule="t_daily", points=2)
    with pytest.raises(Conflict) as err:
        post(w, rule="t_daily", points=2)
    assert err.value.code == "cap_reached"
    post(w, rule="t_daily", points=2, occurred_on=day - dt.timedelta(days=1))  # another day
    post(w, rule="t_daily", points=2, resident=w.r2)  # another person
    assert balance(w.r1) == 4 and balance(w.r2) == 2


def test_cap_on_postings_per_month(in_district):
    w = in_district
    first = today().replace(day=1)
    for _ in range(3):
        post(w, rule="t_monthly", points=1, occurred_on=first)
    with pytest.raises(Conflict):
        post(w, rule="t_monthly", points=1, occurred_on=first)
    post(w, rule="t_monthly", points=1, occurred_on=first - dt.timedelta(days=1))  # the month before
    assert balance(w.r1) == 4


def test_cap_on_points_per_year(in_district):
    w = in_district
    day = today()
    post(w, rule="t_yearly_pts", points=6)
    with pytest.raises(Conflict) as err:
        post(w, rule="t_yearly_pts", points=5)
    assert err.value.code == "cap_reached" and "6" in err.value.message
    post(w, rule="t_yearly_pts", points=4)
    post(w, rule="t_yearly_pts", points=10, occurred_on=day.replace(year=day.year - 1, month=6, day=1))
    assert balance(w.r1) == 20


def test_a_reversed_posting_no_longer_counts_toward_the_cap(in_district):
    w = in_district
    entry = post(w, rule="t_daily", points=2)
    ledger.reverse_entry(actor=w.m1, entry=entry, reason="录错了人")
    post(w, rule="t_daily", points=2)
    assert balance(w.r1) == 2


def test_committee_rules_are_not_posted_directly(in_district):
    w = in_district
    with pytest.raises(NotAllowed) as err:
        post(w, rule="t_committee", points=30, evidence="视频")
    assert err.value.code == "committee_required"
    with pytest.raises(NotAllowed):
        post(w, rule="t_drunk", points=-50, evidence="交警通报")


def test_material_points_only_where_the_district_keeps_them(in_district):
    w = in_district
    assert code_of(lambda: post(w, rule="t_material", points=2)) == "material_off"
    set_points_config(material_points=True)
    post(w, rule="t_material", points=2)
    post(w, rule="t_good", points=5)
    assert selectors.balances(w.r1) == {"civic": 5, "material": 2}


# --- who may post ------------------------------------------------------------------------------------

def test_only_staff_in_scope_post_and_nobody_for_themselves(in_district):
    w = in_district
    post(w, actor=w.gw1)  # r1 lives in G0101
    with pytest.raises(NotAllowed) as err:
        post(w, actor=w.gw3)  # G0201
    assert err.value.code == "out_of_scope"
    with pytest.raises(NotAllowed):
        post(w, actor=w.res_user, resident=w.r2)  # a resident is not staff
    from kernel.services import assign_role

    assign_role(actor=None, user=w.res_user, role="community_staff", scope_kind="community", scope_code="C01")
    with pytest.raises(NotAllowed) as err:
        post(w, actor=w.res_user)  # staff, but these are their own points
    assert err.value.code == "own_points"
    post(w, actor=w.res_user, resident=w.r2)
    post(w, actor=w.admin, resident=w.r4)


# --- idempotency ---------------------------------------------------------------------------------------

def test_the_same_key_posts_once(in_district):
    w = in_district
    first = post(w, points=5, idempotency_key="form-123")
    again = post(w, points=5, idempotency_key="form-123")
    assert again.pk == first.pk and balance(w.r1) == 5
    assert Entry.objects.filter(resident=w.r1).count() == 1
    assert AuditEntry.objects.filter(action="points.post").count() == 1
    with pytest.raises(Conflict) as err:
        post(w, points=6, idempotency_key="form-123")
    assert err.value.code == "idempotency_key_reused" and balance(w.r1) == 5


# --- corrections ------------------------------------------------------------------------------------

def test_a_correction_is_a_reversing_entry(in_district):
    w = in_district
    entry = post(w, points=8)
    with pytest.raises(NotAllowed):
        ledger.reverse_entry(actor=w.staff, entry=entry, reason="x")  # not committee / admin
    reversal = ledger.reverse_entry(actor=w.m1, entry=entry, reason="事迹不实")
    assert (reversal.points, reversal.reverses, reversal.rule_version, reversal.source_kind) == (
        -8, entry, entry.rule_version, "correction")
    assert balance(w.r1) == 0
    assert ledger.reverse_entry(actor=w.m1, entry=entry, reason="again") == reversal  # idempotent
    with pytest.raises(Conflict):
        ledger.reverse_entry(actor=w.m2, entry=reversal, reason="反冲的反冲")
    entry.refresh_from_db()
    assert entry.points == 8  # the original is untouched
    assert Entry.objects.filter(resident=w.r1).count() == 2


def test_who_posted_an_entry_does_not_correct_it(in_district):
    w = in_district
    entry = post(w, actor=w.m1, points=5)
    with pytest.raises(NotAllowed) as err:
        ledger.reverse_entry(actor=w.m1, entry=entry, reason="自己改自己")
    assert err.value.code == "maker_checker"


# --- append-only ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "UPDATE points_entry SET points = 100 WHERE id = %s",
    "DELETE FROM points_entry WHERE id = %s",
])
def test_the_database_refuses_to_change_or_remove_an_entry(in_district, sql):
    w = in_district
    entry = post(w, points=5)
    with pytest.raises(IntegrityError) as err, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    assert "append-only" in str(err.value)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending: TRUNCATE reaches the trigger
        cursor.execute("TRUNCATE points_entry CASCADE")
    entry.refresh_from_db()
    assert entry.points == 5


def test_the_model_refuses_to_change_or_remove_an_entry(in_district):
    w = in_district
    entry = post(w, points=5)
    entry.points = 50
    with pytest.raises(LedgerIsAppendOnly):
        entry.save()
    with pytest.raises(LedgerIsAppendOnly):
        entry.delete()
    with pytest.raises(LedgerIsAppendOnly):
        Entry.objects.filter(pk=entry.pk).update(points=50)
    with pytest.raises(LedgerIsAppendOnly):
        Entry.objects.filter(pk=entry.pk).delete()
    from django.db.models.deletion import ProtectedError

    with pytest.raises(ProtectedError):
        w.r1.delete()  # a resident with entries stays
    ledger.lock_balances([(w.r2.pk, "civic")])  # an empty balance row (a lock) does not keep one
    w.r2.delete()
    assert Entry.objects.get(pk=entry.pk).points == 5


def test_the_check_finds_a_balance_that_drifted(in_district):
    w = in_district
    post(w, points=5)
    Balance.objects.filter(resident=w.r1).update(points=7)
    assert selectors.ledger_mismatches() == [(w.r1.pk, "civic", 7, 5)]
    Balance.objects.filter(resident=w.r1).update(points=5)


# --- SMS ---------------------------------------------------------------------------------------------

def _relay_and_send() -> int:
    from kernel.events import relay_pending
    from notifications.services import deliver_due

    relay_pending()
    return deliver_due()


def test_an_award_is_texted_once_the_posting_is_relayed(in_district):
    w = in_district
    post(w, points=5, reason="帮邻居修水管")
    assert _relay_and_send() == 1
    assert len(MemorySender.outbox) == 1
    phone, text = MemorySender.outbox[0]
    assert phone == "+8613912345601" and "5" in text and "帮邻居修水管" in text
    MemorySender.outbox.clear()
    post(w, points=5, resident=w.r2)  # no phone, no account: nothing to send, nothing breaks
    assert _relay_and_send() == 0
    set_points_config(sms_on_award=False)
    post(w, rule="t_litter", points=-1)
    _relay_and_send()
    assert MemorySender.outbox == []  # the inbox still has it
    from notifications.models import Message

    assert Message.objects.filter(recipient=w.res_user, kind="points.deducted", channel="inbox").count() == 1


def test_a_failing_sms_provider_does_not_undo_the_posting(in_district, settings):
    from notifications.models import Message

    w = in_district
    settings.SMS_SENDER = "tests.points.conftest.FlakySender"
    post(w, points=5, resident=w.r3)  # a number ending in 3: the provider refuses
    post(w, points=5, resident=w.r1)
    assert _relay_and_send() == 1
    refused = Message.objects.get(recipient_key=f"r{w.r3.pk}", channel="sms")
    assert (refused.status, refused.attempts) == ("pending", 1) and "provider said no" in refused.last_error
    assert balance(w.r3) == 5 and balance(w.r1) == 5
