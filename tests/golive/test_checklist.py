"""The go-live checklist from real state (a ledger imported, a responsibility list published, a print
run finished, the administrator signed in), and "go live": refused until done, ops may override."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.lifecycle_hooks import setup_checks
from kernel.models import AuditEntry
from tenants.golive import checklist, go_live, remaining
from tenants.models import District
from tests.conftest import PASSWORD, admin_of, client_for
from tests.golive.conftest import MINE

pytestmark = pytest.mark.django_db


def state(district) -> dict[str, bool]:
    return {item.key: item.done for item in checklist(district)}


def platform_user(username: str, role: str, vendor=None):
    from accounts.services import create_user
    from tenants.services import grant_platform_role

    connection.set_schema_to_public()
    user = create_user(actor=None, username=username, password=PASSWORD)
    grant_platform_role(actor=None, user=user, role=role, vendor=vendor)
    return user


def import_small_ledger(district, admin):
    from modules.registry import ledger
    from tests.registry import build_places, row, xlsx_bytes

    places = build_places(district, admin, prefix="GL")
    with tenant_context(district):
        job = ledger.upload_ledger(actor=admin, file=SimpleUploadedFile("台账.xlsx", xlsx_bytes(
            [row(places, 1, relation="户主"), row(places, 2)])), background=False)
        return ledger.confirm_import(actor=admin, job=job, background=False)


def publish_own_list(district, admin):
    from modules.cases.services.reference import publish_responsibility_list

    with tenant_context(district):
        return publish_responsibility_list(actor=admin, note="本区权责清单", items=[
            {"category": "noise", "area_kind": "district", "unit_kind": "grid_workers", "unit_code": "",
             "response_amount": 2, "response_unit": "hours", "resolution_amount": 3,
             "resolution_unit": "working_days"}])


def finish_a_print_run(district):
    from modules.codes import print_runs, services
    from tests.codes.conftest import build_place

    place = build_place(district, prefix="GP")
    with place:
        run = services.create_print_run(actor=place.staff, scope_kind="community", scope_code=place.community.code,
                                        kinds=["household"])
        return print_runs.produce(run)


def test_the_checks_are_registered_by_their_owners_and_follow_the_modules(dongsheng, laixi):
    keys = [c.key for c in setup_checks()]
    assert set(MINE) <= set(keys)
    assert "rlist_set" in {c.key for c in setup_checks(dongsheng)}
    assert "rlist_set" not in {c.key for c in setup_checks(laixi)}  # laixi has no cases module


def test_the_checklist_follows_real_state(not_live, only_my_checks, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    district = not_live
    admin = admin_of(district)
    assert state(district) == dict.fromkeys(MINE, False)  # the seeded default list does not count
    assert {i.key: i.url for i in checklist(district)}["ledger_imported"].endswith("/registry/ledger/")

    signed_in = client_for(district).post("/login/", {"action": "password", "username": "admin",
                                                      "password": PASSWORD})
    assert signed_in.status_code == 302
    assert state(district)["admin_signed_in"] is True

    job = import_small_ledger(district, admin)
    assert job.status == "done" and job.imported_count == 2
    assert state(district)["ledger_imported"] is True

    publish_own_list(district, admin)
    assert state(district)["rlist_set"] is True

    assert finish_a_print_run(district).status == "done"
    assert state(district) == dict.fromkeys(MINE, True) and remaining(district) == []


def test_go_live_is_refused_until_the_checklist_is_done_and_then_allowed(not_live, only_my_checks, settings,
                                                                          tmp_path):
    settings.MEDIA_ROOT = tmp_path
    district = not_live
    ops = platform_user("gl-ops", "ops")
    with pytest.raises(DomainError) as no_reason:
        go_live(actor=ops, district=district, reason=" ")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(Conflict) as early:
        go_live(actor=ops, district=district, reason="ready")
    assert early.value.status == 409 and early.value.code == "checklist_incomplete"
    assert len(early.value.fields["checklist"]) == 4
    assert District.objects.get(pk=district.pk).live_at is None

    admin = admin_of(district)
    client_for(district).post("/login/", {"action": "password", "username": "admin", "password": PASSWORD})
    import_small_ledger(district, admin)
    publish_own_list(district, admin)
    finish_a_print_run(district)
    connection.set_schema_to_public()
    live = go_live(actor=ops, district=District.objects.get(pk=district.pk), reason="checklist done")
    assert live.live_at is not None
    entry = AuditEntry.objects.get(action="district.go_live", target_id=str(district.pk))
    assert entry.actor_id == ops.pk and entry.after == {"reason": "checklist done", "override": False, "left": []}
    with pytest.raises(Conflict):
        go_live(actor=ops, district=live, reason="again")


def test_only_ops_may_override_the_checklist(not_live, only_my_checks):
    from tenants.services import create_vendor

    vendor = create_vendor(actor=None, slug="gl-vendor", name_zh="测试服务商")
    District.objects.filter(pk=not_live.pk).update(vendor=vendor)
    seller = platform_user("gl-seller", "vendor", vendor)
    with pytest.raises(NotAllowed):
        go_live(actor=seller, district=not_live, reason="customer asks", override=True)
    ops = platform_user("gl-ops2", "ops")
    live = go_live(actor=ops, district=not_live, reason="pilot opens early", override=True)
    assert live.live_at is not None
    entry = AuditEntry.objects.get(action="district.go_live", target_id=str(not_live.pk))
    assert entry.after["override"] is True and set(entry.after["left"]) == set(MINE)
