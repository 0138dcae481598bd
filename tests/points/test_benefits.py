"""Tier benefits: providers, staff and benefits (administrator), the personal code (signed, short-lived,
per district), recording a use (the tier now, the limit per period, idempotency, provider staff only),
what provider staff see after a scan, and the honour list of residents who opted in."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import pytest
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from kernel.personal import mask_name
from modules.points.benefits import selectors as sel
from modules.points.benefits import services as benefits
from modules.points.ledger import rules as rulebook
from modules.points.ledger import services as ledger
from modules.points.models import Benefit, BenefitUse, HonourOptIn, Provider
from tests.conftest import admin_of, make_user
from tests.points.conftest import PointsWorld, assert_ledger_consistent, set_points_config

# No module-wide django_db mark: the tests using ``bw`` get the database through their fixtures (one
# transaction, rolled back); the concurrency test commits for real and must not run inside one.
TIERS = [{"key": "civil", "name_zh": "文明居民", "name_en": "Civil resident", "min_points": 10},
         {"key": "good", "name_zh": "身边好人", "name_en": "Good neighbour", "min_points": 50},
         {"key": "model", "name_zh": "道德模范", "name_en": "Moral model", "min_points": 100}]


@dataclass
class BenefitWorld:
    pw: PointsWorld
    clinic: Provider
    school: Provider
    nurse: object  # staff of the clinic
    teacher: object  # staff of the school
    outsider: object  # a district user linked to no provider
    checkup: Benefit  # clinic, civil, 2 per day
    priority: Benefit  # clinic, good, no limit
    enrol: Benefit  # school, civil, 1 in all


def award(w: PointsWorld, resident, points: int) -> None:
    while points > 0:  # t_good gives 2..100 a posting
        step = min(points, 100)
        ledger.post_entry(actor=w.admin, resident=resident, rule="t_good", points=step, reason="好人好事")
        points -= step


def build_benefits(pw: PointsWorld) -> BenefitWorld:
    nurse = make_user(pw.district, "b_nurse")
    teacher = make_user(pw.district, "b_teacher")
    outsider = make_user(pw.district, "b_outsider", "community_staff", "community", "C01")
    with tenant_context(pw.district):
        set_points_config(tiers=TIERS)
        clinic = benefits.create_provider(actor=pw.admin, name="康巴什区人民医院", kind="clinic", address="康巴什大街 1 号",
                                          phone="0477-1234567")
        school = benefits.create_provider(actor=pw.admin, name="康巴什区第一小学", kind="school")
        benefits.add_provider_staff(actor=pw.admin, provider=clinic, username="b_nurse")
        benefits.add_provider_staff(actor=pw.admin, provider=school, username="b_teacher")
        checkup = benefits.create_benefit(actor=pw.admin, provider=clinic, title="挂号优先", min_tier="civil",
                                          limit_count=2, limit_period="day")
        priority = benefits.create_benefit(actor=pw.admin, provider=clinic, title="免费体检", min_tier="good")
        enrol = benefits.create_benefit(actor=pw.admin, provider=school, title="入学绿色通道", min_tier="civil",
                                        limit_count=1, limit_period="none")
    connection.set_schema_to_public()
    return BenefitWorld(pw, clinic, school, nurse, teacher, outsider, checkup, priority, enrol)


@pytest.fixture
def bw(pw) -> BenefitWorld:
    return build_benefits(pw)


def old_token(resident, seconds: int, monkeypatch) -> str:
    """A personal code issued ``seconds`` ago."""
    real = time.time
    with monkeypatch.context() as m:
        m.setattr(signing.time, "time", lambda: real() - seconds)
        return sel.issue_token(resident)


# --- tier gate --------------------------------------------------------------------------------------

def test_a_resident_below_the_tier_cannot_use_a_benefit(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)  # civil
        token = sel.issue_token(w.r1)
        use, created = benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        assert created and use.tier == "civil" and use.resident_id == w.r1.pk and use.recorded_by_id == bw.nurse.pk
        with pytest.raises(Conflict) as low:
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.priority)
        assert low.value.code == "tier_too_low" and "Good neighbour" in low.value.message
        assert BenefitUse.objects.filter(benefit=bw.priority).count() == 0
        award(w, w.r1, 30)  # 50: good
        _use, created = benefits.record_use(actor=bw.nurse, token=token, benefit=bw.priority)
        assert created
        with pytest.raises(Conflict) as none:  # r3 has no tier at all
            benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r3), benefit=bw.checkup)
        assert none.value.code == "tier_too_low"
        entry = AuditEntry.objects.get(action="points.benefit.use", target_id=str(use.pk))
        assert entry.after == {"benefit": bw.checkup.pk, "provider": bw.clinic.pk, "resident": w.r1.pk,
                               "tier": "civil"}
        assert_ledger_consistent()


def test_a_deduction_that_drops_the_tier_blocks_the_use_at_once(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 11)
        token = sel.issue_token(w.r1)  # shown before the deduction
        assert sel.provider_view(token, bw.nurse).tier["key"] == "civil"
        ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_litter", points=-3, reason="乱扔垃圾")
        with pytest.raises(Conflict) as low:
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        assert low.value.code == "tier_too_low"
        view = sel.provider_view(token, bw.nurse)
        assert view.tier is None and view.providers[0][1] == []
        assert not BenefitUse.objects.exists()
        assert_ledger_consistent()


def test_a_benefit_withdrawn_or_out_of_its_dates_cannot_be_used(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 60)
        token = sel.issue_token(w.r1)
        benefits.update_benefit(actor=w.admin, benefit=bw.checkup, active=False)
        with pytest.raises(Conflict) as off:
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        assert off.value.code == "benefit_unavailable"
        yesterday = timezone.localdate() - dt.timedelta(days=1)
        benefits.update_benefit(actor=w.admin, benefit=bw.priority, valid_to=yesterday.isoformat())
        with pytest.raises(Conflict):
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.priority)
        assert [r.benefit.pk for _p, rows in sel.provider_view(token, bw.nurse).providers for r in rows] == []
        benefits.update_benefit(actor=w.admin, benefit=bw.checkup, active=True)
        benefits.update_benefit(actor=w.admin, benefit=bw.priority, valid_to=None)
        assert bw.priority.pk in [r.benefit.pk for r in sel.benefits_for(w.r1).rows]
        set_points_config(tiers=[t for t in TIERS if t["key"] != "good"])  # the benefit's tier is gone: hidden
        assert [r.benefit.pk for r in sel.benefits_for(w.r1).rows] == [bw.checkup.pk, bw.enrol.pk]
        with pytest.raises(Conflict) as gone:
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.priority)
        assert gone.value.code == "benefit_unavailable"


# --- limits -----------------------------------------------------------------------------------------

def test_the_limit_per_period_holds_and_a_new_period_frees_it(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        now = timezone.now()
        for _i in range(2):
            benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup, now=now)
        assert sel.benefits_for(w.r1, now=now).rows[0].remaining == 0
        with pytest.raises(Conflict) as full:
            benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup, now=now)
        assert full.value.code == "limit_reached" and "2 times per day" in full.value.message
        token = sel.issue_token(w.r1)
        assert sel.provider_view(token, bw.nurse, now=now).providers[0][1] == []  # nothing usable now
        tomorrow = now + dt.timedelta(days=1)
        _use, created = benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup, now=tomorrow)
        assert created
        # another resident has their own limit
        award(w, w.r3, 20)
        assert benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r3), benefit=bw.checkup, now=now)[1]
        # once in all: a year later still refused
        benefits.record_use(actor=bw.teacher, token=sel.issue_token(w.r1), benefit=bw.enrol)
        with pytest.raises(Conflict):
            benefits.record_use(actor=bw.teacher, token=sel.issue_token(w.r1), benefit=bw.enrol,
                                now=now + dt.timedelta(days=400))


def test_monthly_limits_count_from_the_first_of_the_month(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        benefits.update_benefit(actor=w.admin, benefit=bw.checkup, limit_count=1, limit_period="month")
        start = timezone.make_aware(dt.datetime(2031, 3, 31, 23, 0))
        benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup, now=start)
        with pytest.raises(Conflict):
            benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup,
                                now=start + dt.timedelta(minutes=30))
        assert benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup,
                                   now=start + dt.timedelta(hours=2))[1]  # April 1st


# --- idempotency ------------------------------------------------------------------------------------

def test_a_double_tap_records_one_use(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        token = sel.issue_token(w.r1)
        first, created = benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        again, created_again = benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        assert created and not created_again and again.pk == first.pk
        assert BenefitUse.objects.count() == 1
        assert AuditEntry.objects.filter(action="points.benefit.use").count() == 1
        # a client's key: the same key again is the same use, even with a fresh code
        keyed, _c = benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup,
                                        idempotency_key="till-7")
        same, created = benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup,
                                            idempotency_key="till-7")
        assert same.pk == keyed.pk and not created
        award(w, w.r3, 20)
        with pytest.raises(Conflict) as clash:  # the key used for somebody else
            benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r3), benefit=bw.checkup,
                                idempotency_key="till-7")
        assert clash.value.code == "idempotency_key_reused"
        # the same key at another provider is another key
        assert benefits.record_use(actor=bw.teacher, token=sel.issue_token(w.r1), benefit=bw.enrol,
                                   idempotency_key="till-7")[1]
        # the database holds the key unique
        with pytest.raises(IntegrityError), transaction.atomic():
            BenefitUse.objects.create(benefit=bw.checkup, resident=w.r1, tier="civil", recorded_by=bw.nurse,
                                      idempotency_key=first.idempotency_key)


# --- provider staff and codes -------------------------------------------------------------------------

def test_staff_of_one_provider_see_and_record_only_their_own_benefits(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 60)
        token = sel.issue_token(w.r1)
        view = sel.provider_view(token, bw.nurse)
        assert [p.pk for p, _rows in view.providers] == [bw.clinic.pk]
        assert sorted(r.benefit.pk for r in view.providers[0][1]) == sorted([bw.checkup.pk, bw.priority.pk])
        assert [r.benefit.pk for r in sel.provider_view(token, bw.teacher).providers[0][1]] == [bw.enrol.pk]
        with pytest.raises(NotAllowed) as other:
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.enrol)
        assert other.value.code == "not_provider_staff"
        for user in (bw.outsider, w.admin, w.res_user):
            with pytest.raises(NotAllowed) as refused:
                sel.provider_view(token, user)
            assert refused.value.code == "not_provider_staff"
            with pytest.raises(NotAllowed):
                benefits.record_use(actor=user, token=token, benefit=bw.checkup)
        with pytest.raises(NotAllowed):  # not even whether a code is genuine
            sel.provider_view("nonsense", bw.outsider)
        benefits.remove_provider_staff(actor=w.admin, provider=bw.clinic, user=bw.nurse)
        with pytest.raises(NotAllowed):
            sel.provider_view(token, bw.nurse)
        benefits.add_provider_staff(actor=w.admin, provider=bw.clinic, user=bw.nurse)
        benefits.update_provider(actor=w.admin, provider=bw.clinic, active=False)  # a closed provider
        with pytest.raises(NotAllowed):
            benefits.record_use(actor=bw.nurse, token=token, benefit=bw.checkup)
        assert not BenefitUse.objects.exists()


def test_expired_forged_and_mangled_codes_are_refused(bw, monkeypatch):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        fresh = old_token(w.r1, 60, monkeypatch)
        assert sel.read_token(fresh) == w.r1.pk
        expired = old_token(w.r1, sel.TOKEN_MAX_AGE + 5, monkeypatch)
        with pytest.raises(DomainError) as late:
            sel.provider_view(expired, bw.nurse)
        assert (late.value.code, late.value.status) == ("code_expired", 410)
        with pytest.raises(DomainError):
            benefits.record_use(actor=bw.nurse, token=expired, benefit=bw.checkup)
        value, stamp, signature = fresh.split(":")
        forged = [f"{sel._b36(w.r2.pk)}.{value.split('.')[1]}:{stamp}:{signature}",  # another resident
                  f"{value}:{stamp}:{signature[:-2]}xx", "", "x" * 500, "a:b:c",
                  signing.TimestampSigner(salt="mashang.points.personal-code:other").sign(f"{value}")]
        for token in forged:
            with pytest.raises(DomainError) as bad:
                sel.provider_view(token, bw.nurse)
            assert (bad.value.code, bad.value.status) == ("code_invalid", 400), token
        assert not BenefitUse.objects.exists()
        a, b = sel.issue_token(w.r1), sel.issue_token(w.r1)
        assert a != b and len(a) < 80  # a random nonce; short enough for a small QR


def test_a_code_of_another_district_is_refused(bw, dongsheng):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        token = sel.issue_token(w.r1)
    connection.set_schema_to_public()
    clerk = make_user(dongsheng, "b_dong_clerk")
    with tenant_context(dongsheng):
        admin = admin_of(dongsheng)
        set_points_config(tiers=TIERS)
        shop = benefits.create_provider(actor=admin, name="东胜超市", kind="shop")
        benefits.add_provider_staff(actor=admin, provider=shop, user=clerk)
        perk = benefits.create_benefit(actor=admin, provider=shop, title="九折", min_tier="civil")
        with pytest.raises(DomainError) as bad:
            sel.provider_view(token, clerk)
        assert bad.value.code == "code_invalid"
        with pytest.raises(DomainError):
            benefits.record_use(actor=clerk, token=token, benefit=perk)
        assert not BenefitUse.objects.exists()


# --- what a resident sees ----------------------------------------------------------------------------

def test_benefits_for_a_resident_by_tier(bw):
    w = bw.pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        benefits.record_use(actor=bw.nurse, token=sel.issue_token(w.r1), benefit=bw.checkup)
        data = sel.benefits_for(w.r1)
        assert (data.points, data.tier["key"], data.next_tier["key"], data.to_next) == (20, "civil", "good", 30)
        rows = {r.benefit.pk: r for r in data.rows}
        assert rows[bw.checkup.pk].unlocked and rows[bw.checkup.pk].remaining == 1
        assert rows[bw.enrol.pk].unlocked and rows[bw.enrol.pk].remaining == 1
        assert not rows[bw.priority.pk].unlocked and rows[bw.priority.pk].remaining is None
        groups = [(g.tier["key"], g.reached, g.is_next, [r.benefit.pk for r in g.benefits]) for g in data.groups]
        assert groups == [("civil", True, False, [bw.checkup.pk, bw.enrol.pk]),
                          ("good", False, True, [bw.priority.pk]), ("model", False, False, [])]
        nobody = sel.benefits_for(w.r4)
        assert nobody.tier is None and nobody.next_tier["key"] == "civil" and not any(r.unlocked for r in nobody.rows)


# --- administration -----------------------------------------------------------------------------------

def test_only_the_administrator_manages_providers_and_benefits(bw):
    w = bw.pw
    with tenant_context(w.district):
        for actor in (w.staff, bw.nurse, w.res_user, None):
            with pytest.raises(NotAllowed):
                benefits.create_provider(actor=actor, name="x", kind="shop")
            with pytest.raises(NotAllowed):
                benefits.update_benefit(actor=actor, benefit=bw.checkup, title="改")
            with pytest.raises(NotAllowed):
                benefits.add_provider_staff(actor=actor, provider=bw.clinic, username="p_staff")
        with pytest.raises(Conflict):
            benefits.create_provider(actor=w.admin, name="康巴什区人民医院", kind="clinic")
        with pytest.raises(DomainError) as bad:
            benefits.create_provider(actor=w.admin, name="", kind="bank", phone="call me")
        assert set(bad.value.fields) == {"name", "kind", "phone"}
        with pytest.raises(DomainError) as bad:
            benefits.create_benefit(actor=w.admin, provider=bw.clinic, title="x", min_tier="platinum",
                                    limit_count="0.5", valid_from="2030-02-01", valid_to="2030-01-01")
        assert set(bad.value.fields) == {"min_tier", "limit_count", "valid_to"}
        with pytest.raises(Conflict):
            benefits.create_benefit(actor=w.admin, provider=bw.clinic, title="挂号优先", min_tier="civil")
        with pytest.raises(DomainError) as unknown:
            benefits.add_provider_staff(actor=w.admin, provider=bw.clinic, username="nobody-here")
        assert unknown.value.code == "unknown_user"
        _row, created = benefits.add_provider_staff(actor=w.admin, provider=bw.clinic, username="b_nurse")
        assert not created  # linked twice: nothing changes
        changed = benefits.update_benefit(actor=w.admin, benefit=bw.checkup, limit_count=None)
        assert (changed.limit_count, changed.limit_period) == (None, "none")
        entry = AuditEntry.objects.filter(action="points.benefit.update", target_id=str(bw.checkup.pk)).latest("id")
        assert entry.before["limit_count"] == 2 and entry.after["limit_count"] is None
        assert Benefit.objects.filter(title="x").count() == 0 and Provider.objects.count() == 2


def test_the_database_holds_the_benefit_rules(bw):
    w = bw.pw
    with tenant_context(w.district):
        bad_rows = [dict(limit_count=0, limit_period="day"), dict(limit_count=None, limit_period="day"),
                    dict(limit_period="week", limit_count=1), dict(min_tier=""),
                    dict(valid_from=dt.date(2030, 2, 1), valid_to=dt.date(2030, 1, 1))]
        for i, bad in enumerate(bad_rows):
            fields = {"provider": bw.clinic, "title": f"bad {i}", "min_tier": "civil", **bad}
            with pytest.raises(IntegrityError), transaction.atomic():
                Benefit.objects.create(**fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            Benefit.objects.create(provider=bw.clinic, title="挂号优先", min_tier="civil")
        with pytest.raises(IntegrityError), transaction.atomic():
            from modules.points.models import ProviderStaff

            ProviderStaff.objects.create(provider=bw.clinic, user=bw.nurse)
        with pytest.raises(IntegrityError), transaction.atomic():
            HonourOptIn.objects.create(resident=w.r1, show_name="nickname")


# --- the honour list ---------------------------------------------------------------------------------

def test_the_honour_list_shows_only_residents_who_opted_in(bw):
    from modules.registry import services as registry

    w = bw.pw
    users = {r: make_user(w.district, f"b_res{r.pk}", "resident") for r in (w.r3, w.r4)}
    with tenant_context(w.district):
        award(w, w.r1, 120)  # 张一, opts in with a masked name
        award(w, w.r2, 60)  # 张二, does not opt in
        award(w, w.r3, 80)  # 李三, opts in anonymously
        award(w, w.r4, 5)  # 王四 (community C02), opts in but has no tier
        benefits.set_honour_opt_in(actor=w.res_user, public=True)
        for r, u in users.items():
            registry.link_account(actor=None, resident=r, user=u)
        benefits.set_honour_opt_in(actor=users[w.r3], public=True, show_name="anonymous")
        benefits.set_honour_opt_in(actor=users[w.r4], public=True)
        rows = sel.honour_list()
        assert [(r["rank"], r["name"], r["tier"], r["points"], r["community"]) for r in rows] == [
            (1, "张*", "model", 120, "康和社区"), (2, "A resident", "good", 80, "康和社区")]
        assert [r["name"] for r in sel.honour_list(community="C02")] == []
        assert [r["name"] for r in sel.honour_list(community="C01", limit=1)] == ["张*"]
        with pytest.raises(NotAllowed):  # nobody decides for someone else
            benefits.set_honour_opt_in(actor=w.res_user, resident=w.r3, public=False)
        with pytest.raises(NotAllowed):
            benefits.set_honour_opt_in(actor=w.admin, resident=w.r1, public=False)
        benefits.set_honour_opt_in(actor=w.res_user, public=False)  # opting out takes effect at once
        assert [r["points"] for r in sel.honour_list()] == [80]
        changes = AuditEntry.objects.filter(action="points.honour.opt_in", target_id=str(
            HonourOptIn.objects.get(resident=w.r1).pk)).order_by("id")
        assert [c.after["public"] for c in changes] == [True, False]
        assert mask_name("张三明") == "张*明" and mask_name("欧阳娜娜") == "欧**娜" and mask_name("李") == "李"


# --- concurrency -----------------------------------------------------------------------------------

@pytest.mark.worker
def test_two_taps_on_two_phones_cannot_both_pass_a_limit(django_db_blocker):
    """Four provider phones record the once-a-day benefit for one resident at the same moment, each with
    its own key: the balance row lock makes exactly one pass. Committed in the "worker" district
    (ledger rows are never deleted; names are unique per run)."""
    import secrets

    from modules.registry import services as registry
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        tag = secrets.token_hex(3)
        clerk = make_user(district, f"b_clerk_{tag}")
        with tenant_context(district):
            set_points_config(tiers=TIERS)
            resident = registry.register_resident(actor=None, name=f"并发{tag}")
            rulebook.create_rule(actor=admin, code=f"t_b_{tag}", name_zh="好人好事", direction="add",
                                 category="test", min_points=1, max_points=50)
            ledger.post_entry(actor=admin, resident=resident, rule=f"t_b_{tag}", points=20, reason="x")
            shop = benefits.create_provider(actor=admin, name=f"超市{tag}", kind="shop")
            benefits.add_provider_staff(actor=admin, provider=shop, user=clerk)
            perk = benefits.create_benefit(actor=admin, provider=shop, title="每日一次", min_tier="civil",
                                           limit_count=1, limit_period="day")
            tokens = [sel.issue_token(resident) for _ in range(4)]
        barrier, outcomes = threading.Barrier(4), []

        def attempt(n):
            try:
                with tenant_context(district):
                    barrier.wait()
                    benefits.record_use(actor=clerk, token=tokens[n], benefit=perk)
                outcomes.append("recorded")
            except Conflict as exc:
                outcomes.append(exc.code)
            except Exception as exc:  # noqa: BLE001 - shown in the assertion
                outcomes.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(outcomes) == ["limit_reached"] * 3 + ["recorded"]
        with tenant_context(district):
            assert BenefitUse.objects.filter(benefit=perk).count() == 1
            assert_ledger_consistent()
        connection.set_schema_to_public()


# --- the demo ---------------------------------------------------------------------------------------

def test_the_demo_seeds_providers_a_provider_account_and_opt_ins_once(pw):
    from django.contrib.auth import get_user_model

    from kernel.demo import DEMO_PASSWORD
    from modules.points.demo.benefits import seed_benefits

    w = pw
    with tenant_context(w.district):
        set_points_config(tiers=TIERS)
        for r, points in ((w.r1, 120), (w.r2, 60), (w.r3, 20), (w.r4, 4)):
            award(w, r, points)
        seed_benefits(w.admin, rng_seed="kangbashi")
        providers = dict(Provider.objects.values_list("kind", "name"))
        assert providers == {"school": "康巴什区第一小学", "clinic": "康巴什区人民医院", "culture": "鄂尔多斯大剧院",
                             "shop": "康巴什惠民超市", "tax": "国家税务总局鄂尔多斯市康巴什区税务局"}
        per_provider = [Benefit.objects.filter(provider__kind=k).count() for k in providers]
        assert all(1 <= n <= 3 for n in per_provider)
        assert set(Benefit.objects.values_list("min_tier", flat=True)) == {"civil", "good", "model"}
        clerk = get_user_model().objects.get(username="provider")
        assert clerk.check_password(DEMO_PASSWORD) and [p.kind for p in sel.providers_of(clerk)] == ["clinic"]
        opted = set(HonourOptIn.objects.filter(public=True).values_list("resident_id", flat=True))
        assert opted and opted <= {w.r1.pk, w.r2.pk, w.r3.pk}  # residents who reached a tier only
        uses = BenefitUse.objects.count()
        counts = (Provider.objects.count(), Benefit.objects.count(), HonourOptIn.objects.count())
        seed_benefits(w.admin, rng_seed="kangbashi")  # idempotent
        assert (Provider.objects.count(), Benefit.objects.count(), HonourOptIn.objects.count()) == counts
        assert BenefitUse.objects.count() == uses
        assert_ledger_consistent()
