"""A bad rating opens one follow-up case (回访) for the supervising level, through the outbox: the
handler called twice, the relay, and a real Celery worker."""
from __future__ import annotations

import secrets

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import NotAllowed
from kernel.events import handlers_for, relay_pending
from kernel.models import AuditEntry, HandledEvent, OutboxEvent
from modules.cases import followups, selectors, services
from modules.cases.models import Case, CaseEvent
from tests.cases.conftest import T0
from tests.conftest import admin_of, make_user, wait_for

S = Case.Status


def rated(w, rating: int, *, comment: str = "还是堆着", **place) -> Case:
    """A case reported by the resident, handled by its grid worker and rated ``rating``."""
    place = place or {"household": w.places["h1"]}
    case = services.submit_case(actor=w.reporter, channel="snap", category="corridor_clutter", title="楼道堆物",
                                contact="13912345678", now=T0, **place)
    handler = case.assignee or w.staff_c1
    services.accept_case(actor=handler, case=case, now=T0)
    services.resolve_case(actor=handler, case=case, result="已清理", now=T0)
    return services.confirm_and_rate(actor=w.reporter, case=case, rating=rating, comment=comment, now=T0)


def bad_rating_event(case: Case) -> OutboxEvent:
    return OutboxEvent.objects.get(topic="cases.bad_rating", payload__case_id=case.pk)


@pytest.mark.django_db
def test_a_bad_rating_opens_exactly_one_follow_up_for_the_community(in_district):
    w = in_district
    case = rated(w, 1)
    event = bad_rating_event(case)
    assert event.payload["rating"] == 1 and event.payload["comment"] == "还是堆着"
    followups.on_bad_rating(event.payload, event)
    followups.on_bad_rating(event.payload, event)  # the same event again: nothing more
    [follow] = Case.objects.filter(follow_up_of=case)
    assert follow.title == "回访：楼道堆物" and follow.status == S.SUBMITTED and follow.assignee is None
    assert "1 星" in follow.description and "还是堆着" in follow.description and case.ref in follow.description
    assert (follow.responsible_kind, follow.responsible_code) == ("community", "C01")  # the grid's community
    assert (follow.category, follow.grid, follow.community, follow.household) == (
        case.category, case.grid, case.community, case.household)
    assert follow.reporter == w.reporter and follow.reporter_contact_masked == "139****5678"
    assert follow.rlist is None and follow.owner_level == 1
    calendar = selectors.work_calendar(event.created_at)
    assert follow.response_due == calendar.add_working_days(event.created_at, 1)
    assert follow.next_escalation_at == follow.response_due
    for each in (case, follow):
        assert CaseEvent.objects.filter(case=each, kind="follow_up_opened").count() == 1
    assert CaseEvent.objects.get(case=case, kind="follow_up_opened").data["follow_up"] == follow.ref
    assert AuditEntry.objects.filter(action="cases.follow_up.open", target_id=str(follow.pk)).count() == 1
    assert OutboxEvent.objects.filter(topic="cases.follow_up_opened", payload__case_id=follow.pk).count() == 1

    # the relay runs the registered handler (a third time for this event): still one follow-up
    assert any(h.name == followups.HANDLER_NAME for h in handlers_for("cases.bad_rating"))
    relay_pending()
    assert HandledEvent.objects.filter(event=event, handler=followups.HANDLER_NAME).count() == 1
    assert Case.objects.filter(follow_up_of=case).count() == 1

    # the community's staff take it on; another community's staff may not
    with pytest.raises(NotAllowed):
        services.accept_case(actor=w.staff_c2, case=follow)
    accepted = services.accept_case(actor=w.staff_c1, case=follow)
    assert accepted.status == S.ACCEPTED and accepted.assignee == w.staff_c1
    assert selectors.can_see(w.reporter, follow)


@pytest.mark.django_db
def test_good_ratings_open_nothing(in_district):
    w = in_district
    case = rated(w, 4)
    assert not OutboxEvent.objects.filter(topic="cases.bad_rating").exists()
    relay_pending()
    assert not Case.objects.filter(follow_up_of__isnull=False).exists()
    # a stray event with a good rating is ignored too
    followups.on_bad_rating({"case_id": case.pk, "ref": case.ref, "rating": 4, "comment": ""}, None)
    assert not Case.objects.filter(follow_up_of=case).exists()
    # and one about a case that is gone does no harm
    assert followups.open_follow_up(case_id=999999, rating=1) is None


@pytest.mark.django_db
def test_a_community_handled_case_is_followed_up_by_its_street(in_district):
    w = in_district
    case = rated(w, 2, community=w.places["g1"].community, comment="")  # no grid: the community handles it
    assert case.responsible_kind == "community"
    relay_pending()
    follow = Case.objects.get(follow_up_of=case)
    assert (follow.responsible_kind, follow.responsible_code) == ("street", "S01")
    assert "意见" not in follow.description  # no comment given


@pytest.mark.django_db
def test_nothing_happens_while_cases_is_off(world):
    from tenants.services import disable_module

    with tenant_context(world.district):
        case = rated(world, 1)
    district = disable_module(actor=None, district=world.district, key="cases")
    with tenant_context(district):
        relay_pending()
        assert not Case.objects.filter(follow_up_of=case).exists()
        assert not HandledEvent.objects.filter(handler=followups.HANDLER_NAME).exists()


@pytest.mark.worker
def test_a_real_worker_opens_the_follow_up(celery_worker, django_db_blocker):
    """Committed for real in the "worker" district (cases switched on for the test, then off again)."""
    from modules.registry import services as registry
    from modules.registry.models import Community, Street
    from tenants.models import District
    from tenants.services import disable_module, enable_module

    prefix = f"F{secrets.token_hex(2).upper()}"
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        had_cases = district.has_module("cases")
        admin = admin_of(district)
        reporter = make_user(district, f"{prefix.lower()}-reporter", "resident")
        made: list[int] = []
        try:
            if not had_cases:
                district = enable_module(actor=None, district=district, key="cases")
            with tenant_context(district):
                street = registry.create_street(actor=admin, code=f"{prefix}S", name="回访街道")
                community = registry.create_community(actor=admin, code=f"{prefix}C", name="回访社区", street=street)
                case = services.submit_case(actor=reporter, channel="snap", category="corridor_clutter",
                                            title="真实工作进程回访", community=community)
                made.append(case.pk)
                services.accept_case(actor=admin, case=case)
                services.resolve_case(actor=admin, case=case, result="已处理")
                services.confirm_and_rate(actor=reporter, case=case, rating=1, comment="不满意")

            def opened():
                with tenant_context(district):
                    return Case.objects.filter(follow_up_of_id=case.pk).first()

            follow = wait_for(opened, timeout=60)
            assert follow, "the worker did not open the follow-up"
            made.append(follow.pk)
            with tenant_context(district):
                assert Case.objects.filter(follow_up_of_id=case.pk).count() == 1
                assert (follow.responsible_kind, follow.responsible_code) == ("street", f"{prefix}S")
                event = OutboxEvent.objects.get(topic="cases.bad_rating", payload__case_id=case.pk)
                assert HandledEvent.objects.filter(event=event, handler=followups.HANDLER_NAME).count() == 1
        finally:
            with tenant_context(district):
                Case.objects.filter(follow_up_of_id__in=made).delete()
                Case.objects.filter(pk__in=made).delete()
                Community.objects.filter(code=f"{prefix}C").delete()
                Street.objects.filter(code=f"{prefix}S").delete()
            connection.set_schema_to_public()
            if not had_cases:
                disable_module(actor=None, district=District.objects.get(slug="worker"), key="cases")
        connection.set_schema_to_public()
