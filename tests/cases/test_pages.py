"""The portal pages of the cases module: snap report and suggestion, reports from a scanned code, my
cases, the case page with its timeline and the reporter's and handler's steps, the staff work bench.
Pages are tested through the Django test client on the district's host."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from django.utils.functional import empty
from django_tenants.utils import tenant_context
from PIL import Image

from kernel.services import update_module_config
from modules.cases import services
from modules.cases.models import Attachment, Case, CaseEvent
from modules.catalog import catalog
from tests.conftest import client_for, host, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    if default_storage._wrapped is not empty:  # django-tenants caches the media root
        default_storage._wrapped.__dict__.pop("relative_media_root", None)
    return tmp_path


def jpeg(color="red", size=(80, 60)) -> SimpleUploadedFile:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return SimpleUploadedFile(f"{color}.jpg", buf.getvalue(), content_type="image/jpeg")


def page(client, url, data=None, **extra):
    """POST a form the way a browser does (multipart, following nothing)."""
    return client.post(url, data or {}, format="multipart", **extra)


def cases_of(world, **filters):
    with tenant_context(world.district):
        rows = list(Case.objects.filter(**filters).order_by("id"))
    connection.set_schema_to_public()
    return rows


def reload(world, case: Case) -> Case:
    with tenant_context(world.district):
        fresh = Case.objects.select_related("assignee").get(pk=case.pk)
    connection.set_schema_to_public()
    return fresh


def submit(world, user, category="corridor_clutter", title="楼道堆物", household="h1", now=None, **extra) -> Case:
    with tenant_context(world.district):
        case = services.submit_case(actor=user, channel=extra.pop("channel", "snap"), category=category, title=title,
                                    household=world.places[household] if household else None, now=now, **extra)
    connection.set_schema_to_public()
    return case


def messages_of(response) -> str:
    return " ".join(m.strip() for m in re.findall(r'<p class="error">(.*?)</p>', response.content.decode()))


# --- snap report --------------------------------------------------------------------------------------

def test_snap_report_page_offers_camera_categories_place_and_position(world):
    client = client_for(world.district, world.reporter)
    response = client.get("/cases/report/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="report-form"' in html and 'data-mode="snap"' in html
    assert '<input type="file" name="files" id="files" accept="image/*,video/mp4" capture="environment" multiple' in html
    assert 'value="corridor_clutter"' in html and 'value="parking"' in html
    assert 'value="praise"' not in html and 'value="merchant_help"' not in html  # other channels' categories
    assert f'value="h:{world.places["h1"].pk}"' in html  # the resident's own household
    assert f'value="h:{world.places["h3"].pk}"' not in html  # someone else's
    assert 'value="c:X01"' in html and 'value="c:X02"' in html  # compounds from the list
    assert 'name="latitude"' in html and 'id="locate"' in html and 'csrfmiddlewaretoken' in html
    assert 'maxlength="80"' in html and 'maxlength="2000"' in html  # TITLE_MAX, DESCRIPTION_MAX
    assert 'name="contact"' not in html  # signed in: the account's phone is known


def test_the_most_reported_kinds_come_first_and_the_rest_fold_away(world):
    from kernel.cache import forget

    with tenant_context(world.district):
        for i in range(12):
            services.save_category(actor=world.admin, code=f"extra_{i:02d}", name_zh=f"其他问题{i:02d}", name_en=f"Other {i}")
        for _ in range(2):
            services.submit_case(actor=world.reporter, channel="snap", category="extra_11", title="井盖缺失",
                                 household=world.places["h1"])
        forget("cases-category-order")
    client = client_for(world.district, world.reporter)
    html = client.get("/cases/report/").content.decode()
    first, more = html.split('data-testid="more-categories"')
    assert first.index('value="extra_11"') < first.index('value="corridor_clutter"')  # reported most lately
    assert 'value="extra_10"' in more and 'value="extra_11"' not in more and "<details" in first[-200:]
    assert 'data-testid="more-categories" open' not in html
    # a form sent back with a folded-away kind opens the fold, keeping the choice visible
    again = page(client, "/cases/report/", {"category": "extra_10", "title": ""})
    assert again.status_code == 400 and 'data-testid="more-categories" open' in again.content.decode()
    assert 'value="extra_10" checked' in again.content.decode()


def test_report_with_a_photo_creates_the_case_and_shows_ref_and_due_times(world):
    client = client_for(world.district, world.reporter)
    form = client.get("/cases/report/").content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    body = {"idempotency_key": key, "category": "parking", "title": "车堵了消防通道", "description": "3号楼东侧",
            "place": f"h:{world.places['h1'].pk}", "address": "东门", "latitude": "39.608123",
            "longitude": "109.781456", "files": [jpeg("red"), jpeg("blue")]}
    response = page(client, "/cases/report/", body)
    assert response.status_code == 302, messages_of(response)
    [case] = cases_of(world)
    assert response["Location"] == f"/cases/{case.ref}/?new=1"
    assert case.channel == "snap" and case.category_id and case.title == "车堵了消防通道"
    assert case.household_id == world.places["h1"].pk and case.reporter_id == world.reporter.pk
    assert str(case.latitude) == "39.608123" and case.address == "东门"
    with tenant_context(world.district):
        photos = list(Attachment.objects.filter(case_id=case.pk, stage="report"))
    connection.set_schema_to_public()
    assert len(photos) == 2 and {p.content_type for p in photos} == {"image/jpeg"}
    shown = client.get(response["Location"])
    html = shown.content.decode()
    assert shown.status_code == 200 and 'data-testid="filed-ref"' in html and case.ref in html
    local = timezone.localtime(case.resolution_due, dt.timezone(dt.timedelta(hours=8)))
    assert local.strftime("%m-%d %H:%M") in html  # due times in Asia/Shanghai
    assert 'data-testid="photos"' in html
    file_url = f"/cases/{case.pk}/files/{photos[0].pk}/"
    assert file_url in html
    got = client.get(file_url)
    assert got.status_code == 200 and got["Content-Type"] == "image/jpeg" and got["X-Content-Type-Options"] == "nosniff"
    assert client_for(world.district, world.other_resident).get(file_url).status_code == 404
    # the same form sent twice (a double tap) is one case
    again = page(client, "/cases/report/", {**body, "files": [jpeg("red")]})
    assert again.status_code == 302 and len(cases_of(world)) == 1


def test_bad_input_shows_the_error_with_400_and_saves_nothing(world, media):
    client = client_for(world.district, world.reporter)
    no_title = page(client, "/cases/report/", {"category": "noise", "title": "  ", "files": [jpeg()]})
    assert no_title.status_code == 400 and "field-error" in no_title.content.decode()
    not_a_photo = page(client, "/cases/report/", {
        "category": "noise", "title": "噪音", "files": [SimpleUploadedFile("x.jpg", b"<?php echo 1; ?>", "image/jpeg")]})
    assert not_a_photo.status_code == 400
    assert 'data-testid="files-error"' in not_a_photo.content.decode() and "x.jpg" in not_a_photo.content.decode()
    assert 'value="噪音"' in not_a_photo.content.decode()  # what was typed is kept
    no_category = page(client, "/cases/report/", {"title": "噪音"})
    assert no_category.status_code == 400
    inactive = page(client, "/cases/report/", {"category": "praise", "title": "噪音"})  # not offered here
    assert inactive.status_code == 400
    not_mine = page(client, "/cases/report/", {"category": "noise", "title": "噪音",
                                               "place": f"h:{world.places['h3'].pk}"})
    assert not_mine.status_code == 400
    off_earth = page(client, "/cases/report/", {"category": "noise", "title": "噪音", "latitude": "123",
                                                "longitude": "10"})
    assert off_earth.status_code == 400
    assert cases_of(world) == []
    stored = [p for p in media.rglob("*") if p.is_file()]
    assert all(p.parent.name == "pending" for p in stored)  # no stray file: only photos kept for the next try


def test_anonymous_report_is_tracked_in_that_browser_only(world):
    anonymous = client_for(world.district)
    form = anonymous.get("/cases/report/")
    assert form.status_code == 200 and 'name="contact"' in form.content.decode()
    response = page(anonymous, "/cases/report/", {"category": "noise", "title": "夜里施工",
                                                  "place": "c:X01", "contact": "13912345678"})
    assert response.status_code == 302
    [case] = cases_of(world)
    assert case.reporter_id is None and case.compound_id and case.reporter_contact_index
    mine = anonymous.get(response["Location"])
    assert mine.status_code == 200 and 'data-testid="tracking-hint"' in mine.content.decode()
    assert 'data-testid="confirm-form"' not in mine.content.decode()
    listed = anonymous.get("/cases/mine/")
    assert listed.status_code == 200 and case.ref in listed.content.decode()
    stranger = client_for(world.district).get(f"/cases/{case.ref}/")
    assert stranger.status_code == 302 and stranger["Location"].startswith("/login/?next=")
    assert client_for(world.district, world.other_resident).get(f"/cases/{case.ref}/").status_code == 404
    # its handler (the grid's worker) may call back; others see the number masked (more: test_reporter_phone)
    handler_view = client_for(world.district, world.gw1).get(f"/cases/{case.pk}/").content.decode()
    assert 'href="tel:13912345678"' in handler_view


def test_district_without_anonymous_reports_asks_to_sign_in(world):
    with tenant_context(world.district):
        config = catalog["cases"].default_config() | {"anonymous_reports": False}
        update_module_config(actor=None, module_key="cases", data=config)
    connection.set_schema_to_public()
    anonymous = client_for(world.district)
    for url in ("/cases/report/", "/cases/suggest/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
    assert page(anonymous, "/cases/report/", {"category": "noise", "title": "x"}).status_code == 302
    assert cases_of(world) == []


def test_suggestion_goes_to_a_street_community_or_compound(world):
    client = client_for(world.district, world.reporter)
    form = client.get("/cases/suggest/").content.decode()
    assert 'data-mode="suggestion"' in form and 'value="s:S01"' in form and 'value="m:C02"' in form
    assert 'value="c:X02"' in form and 'name="category"' in form and 'value="suggestion"' in form
    missing = page(client, "/cases/suggest/", {"title": "多装路灯"})
    assert missing.status_code == 400 and cases_of(world) == []
    made = page(client, "/cases/suggest/", {"title": "多装路灯", "description": "河边太黑", "to": "m:C02"})
    assert made.status_code == 302
    [case] = cases_of(world)
    assert case.channel == "suggestion" and case.community_id and case.street_id
    with tenant_context(world.district):
        assert case.category.code == "suggestion" and case.community.code == "C02"


# --- my cases and who sees a case ----------------------------------------------------------------------

def test_my_cases_lists_only_mine_with_status_badges(world):
    mine = submit(world, world.reporter, title="我的")
    theirs = submit(world, world.other_resident, title="别人的", household="h3")
    response = client_for(world.district, world.reporter).get("/cases/mine/")
    html = response.content.decode()
    assert response.status_code == 200 and mine.ref in html and theirs.ref not in html
    assert 'data-status="assigned"' in html and 'data-testid="status-badge"' in html
    login = client_for(world.district).get("/cases/mine/")
    assert login.status_code == 302 and login["Location"] == "/login/?next=/cases/mine/"


def test_case_page_is_for_the_reporter_and_the_area_staff_only(world):
    case = submit(world, world.reporter)
    d = world.district
    assert client_for(d, world.reporter).get(f"/cases/{case.ref}/").status_code == 200
    assert client_for(d, world.reporter).get(f"/cases/{case.pk}/").status_code == 200
    assert client_for(d, world.other_resident).get(f"/cases/{case.ref}/").status_code == 404
    assert client_for(d, world.gw2).get(f"/cases/{case.ref}/").status_code == 404
    assert client_for(d, world.other_resident).get("/cases/KBS-20990101-0001/").status_code == 404
    assert client_for(d, world.reporter).get("/cases/99999999999999999999999/").status_code == 404
    assert client_for(d, world.reporter).get(f"/cases/{case.pk}/files/99999999999999999999999/").status_code == 404
    anonymous = client_for(d).get(f"/cases/{case.ref}/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    worker = client_for(d, world.gw1).get(f"/cases/{case.ref}/").content.decode()
    assert 'data-testid="staff-actions"' in worker and 'data-testid="accept"' in worker
    reporter = client_for(d, world.reporter).get(f"/cases/{case.ref}/").content.decode()
    assert 'data-testid="staff-actions"' not in reporter
    assert re.findall(r'data-kind="(\w+)"', reporter) == ["submitted", "assigned"]
    # the settings pages keep their own addresses next to the case pages
    assert client_for(d, world.admin).get("/cases/settings/").status_code == 200


# --- the work bench and the steps ----------------------------------------------------------------------

def test_bench_is_for_staff(world):
    d = world.district
    assert client_for(d, world.reporter).get("/cases/pool/").status_code == 403
    anonymous = client_for(d).get("/cases/pool/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    for user in (world.gw1, world.staff_c1, world.dept, world.admin):
        assert client_for(d, user).get("/cases/pool/").status_code == 200


def test_grab_accept_start_resolve_confirm_through_the_pages(world):
    d = world.district
    case = submit(world, world.reporter, category="parking", title="乱停车")
    assert case.status == "submitted" and case.assign_mode == "grab"
    part_time, other_grid, owner = client_for(d, world.gw1b), client_for(d, world.gw2), client_for(d, world.gw1)
    bench = part_time.get("/cases/pool/").content.decode()
    pool_html = bench.split('data-testid="pool"')[1].split('id="attention"')[0]
    assert case.ref in pool_html and 'data-testid="grab"' in pool_html
    assert case.ref not in other_grid.get("/cases/pool/").content.decode()
    assert page(other_grid, "/cases/pool/", {"case": case.pk, "action": "grab"}).status_code == 404
    grabbed = page(part_time, "/cases/pool/", {"case": case.pk, "action": "grab"})
    assert grabbed.status_code == 302 and reload(world, case).assignee.username == "gw1b"
    late = page(owner, "/cases/pool/", {"case": case.pk, "action": "grab"})  # the grid's owner, a moment late
    assert late.status_code == 409 and case.ref in messages_of(late) and 'data-testid="bench"' in late.content.decode()
    too_late = page(owner, f"/cases/{case.pk}/", {"action": "grab"})
    assert too_late.status_code == 409 and messages_of(too_late)
    assert reload(world, case).assignee.username == "gw1b"
    work = part_time.get("/cases/pool/").content.decode().split('data-testid="work"')[1]
    assert case.ref in work and 'data-testid="accept"' in work
    assert page(part_time, "/cases/pool/", {"case": case.pk, "action": "accept"}).status_code == 302
    assert page(part_time, f"/cases/{case.ref}/", {"action": "start"}).status_code == 302
    empty_result = page(part_time, f"/cases/{case.ref}/", {"action": "resolve", "result": ""})
    assert empty_result.status_code == 400 and reload(world, case).status == "in_progress"
    resolved = page(part_time, f"/cases/{case.ref}/", {"action": "resolve", "result": "已挪车", "verified": "1",
                                                       "files": [jpeg("green")]})
    assert resolved.status_code == 302 and reload(world, case).status == "resolved"
    with tenant_context(d):
        assert Attachment.objects.filter(case_id=case.pk, stage="result").count() == 1
    connection.set_schema_to_public()
    reporter = client_for(d, world.reporter)
    shown = reporter.get(f"/cases/{case.ref}/").content.decode()
    assert 'data-testid="confirm-form"' in shown and "已挪车" in shown
    assert all(f'data-testid="rate-{n}"' in shown for n in range(1, 6))
    assert page(part_time, f"/cases/{case.ref}/", {"action": "confirm", "rating": "5"}).status_code == 403
    no_rating = page(reporter, f"/cases/{case.ref}/", {"action": "confirm"})
    assert no_rating.status_code == 400 and reload(world, case).status == "resolved"
    closed = page(reporter, f"/cases/{case.ref}/", {"action": "confirm", "rating": "5", "comment": "很快"})
    assert closed.status_code == 302
    case = reload(world, case)
    assert case.status == "closed" and case.rating == 5
    final = reporter.get(f"/cases/{case.ref}/").content.decode()
    assert 'data-testid="rating"' in final
    assert re.findall(r'data-kind="(\w+)"', final) == ["submitted", "pooled", "grabbed", "accepted", "started",
                                                       "resolved", "confirmed"]
    # not solved after all: the reporter reopens it within the window
    no_reason = page(reporter, f"/cases/{case.ref}/", {"action": "reopen", "reason": " "})
    assert no_reason.status_code == 400
    reopened = page(reporter, f"/cases/{case.ref}/", {"action": "reopen", "reason": "又停上了"})
    assert reopened.status_code == 302 and reload(world, case).status == "assigned"


def test_reopen_is_offered_only_within_reopen_days(world):
    case = submit(world, world.reporter, now=timezone.now() - dt.timedelta(days=30))
    with tenant_context(world.district):
        services.accept_case(actor=world.gw1, case=case, now=timezone.now() - dt.timedelta(days=29))
        services.resolve_case(actor=world.gw1, case=case, result="已清理", now=timezone.now() - dt.timedelta(days=20))
    connection.set_schema_to_public()
    reporter = client_for(world.district, world.reporter)
    html = reporter.get(f"/cases/{case.ref}/").content.decode()
    assert 'data-testid="confirm-form"' in html and 'data-testid="reopen"' not in html
    late = page(reporter, f"/cases/{case.ref}/", {"action": "reopen", "reason": "又堆上了"})
    assert late.status_code == 409 and reload(world, case).status == "resolved"


def test_transfer_joint_handler_and_return_through_the_case_page(world):
    d = world.district
    first = submit(world, world.reporter, category="noise", title="楼上噪音")
    second = submit(world, world.reporter, category="noise", title="楼上噪音又来了")
    staff = client_for(d, world.staff_c1)
    html = staff.get(f"/cases/{second.ref}/").content.decode()
    assert 'data-testid="reject"' in html and f'<option value="{first.ref}">' in html  # a duplicate candidate
    dup = page(staff, f"/cases/{second.ref}/", {"action": "reject", "reason": "duplicate", "parent": first.ref})
    assert dup.status_code == 302
    second = reload(world, second)
    assert second.status == "rejected" and second.parent_id == first.pk
    joint = page(staff, f"/cases/{first.ref}/", {"action": "participant", "who": f"mediator:{world.mediator.pk}"})
    assert joint.status_code == 302
    wrong = page(staff, f"/cases/{first.ref}/", {"action": "participant", "who": f"mediator:{world.gw2.pk}"})
    assert wrong.status_code == 400
    no_reason = page(staff, f"/cases/{first.ref}/", {"action": "transfer", "unit": "department:urban"})
    assert no_reason.status_code == 400 and reload(world, first).responsible_kind == "grid_workers"
    moved = page(staff, f"/cases/{first.ref}/", {"action": "transfer", "unit": "department:urban",
                                                 "reason": "需要执法"})
    assert moved.status_code == 302 and reload(world, first).responsible_kind == "department"
    dept = client_for(d, world.dept)
    waiting = dept.get("/cases/pool/").content.decode().split('data-testid="waiting"')[1]
    assert first.ref in waiting
    no_note = page(dept, f"/cases/{first.ref}/", {"action": "reject", "reason": "not_our_responsibility"})
    assert no_note.status_code == 400
    returned = page(dept, f"/cases/{first.ref}/", {"action": "reject", "reason": "not_our_responsibility",
                                                   "note": "属环保局管理"})
    assert returned.status_code == 302
    shown = client_for(d, world.reporter).get(f"/cases/{first.ref}/").content.decode()
    assert 'data-testid="result"' in shown and "属环保局管理" in shown
    kinds = re.findall(r'data-kind="(\w+)"', shown)
    assert kinds == ["submitted", "assigned", "duplicate_linked", "joint_handler_added", "transferred", "rejected"]


def test_overdue_and_escalated_cases_are_highlighted_for_their_new_owner(world):
    long_ago = timezone.now() - dt.timedelta(days=20)
    case = submit(world, world.reporter, category="noise", title="没人管", now=long_ago)
    with tenant_context(world.district):
        services.escalate_overdue(now=timezone.now())
    connection.set_schema_to_public()
    assert reload(world, case).owner_level == 1
    bench = client_for(world.district, world.staff_c1).get("/cases/pool/").content.decode()
    attention = bench.split('data-testid="attention"')[1]
    assert case.ref in attention and 'data-testid="escalated"' in attention and 'data-testid="overdue"' in attention
    assert case.ref not in client_for(world.district, world.staff_c2).get("/cases/pool/").content.decode()
    shown = client_for(world.district, world.reporter).get(f"/cases/{case.ref}/").content.decode()
    assert 'data-kind="escalated"' in shown


# --- scanned codes ---------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _cases_code_actions():
    """The cases module's code actions as the app registers them (another suite's fixture may have
    replaced and then unregistered actions of the same keys earlier in the session)."""
    import importlib

    from modules.cases import code_actions

    importlib.reload(code_actions)


def _codes(world, household="h1"):
    from modules.codes.services import issue_codes

    with tenant_context(world.district):
        inside, outdoor = issue_codes(actor=None, household=world.places[household])
    connection.set_schema_to_public()
    return inside, outdoor


def test_outdoor_code_offers_report_praise_and_contact(world):
    _inside, outdoor = _codes(world)
    landing = client_for(world.district).get(f"/c/{outdoor.token}")
    html = landing.content.decode()
    assert landing.status_code == 200
    for key in ("report", "praise", "contact"):
        assert f'data-action="{key}" data-module="cases"' in html
    assert f"/cases/code/{outdoor.token}/report/" in html


def test_report_from_an_outdoor_code_names_that_household(world):
    _inside, outdoor = _codes(world)
    url = f"/cases/code/{outdoor.token}/report/"
    anonymous = client_for(world.district)
    form = anonymous.get(url)
    html = form.content.decode()
    assert form.status_code == 200 and 'data-mode="outdoor_report"' in html
    assert world.places["h1"].address in html.split('data-testid="report-target"')[1].split("</div>")[1]
    made = page(anonymous, url, {"category": "corridor_clutter", "title": "楼道堆放纸箱", "files": [jpeg()]})
    assert made.status_code == 302
    [case] = cases_of(world)
    assert case.channel == "outdoor_report" and case.household_id == world.places["h1"].pk
    assert anonymous.get(made["Location"]).status_code == 200
    # /cases/report/?code=<token> goes to the code's own report page
    redirected = anonymous.get(f"/cases/report/?code={outdoor.token}")
    assert redirected.status_code == 302 and redirected["Location"] == url
    assert anonymous.get("/cases/code/not-a-real-token-000000000/report/").status_code == 404


def test_praise_from_an_outdoor_code(world):
    _inside, outdoor = _codes(world, "h3")
    client = client_for(world.district, world.reporter)
    form = client.get(f"/cases/code/{outdoor.token}/praise/").content.decode()
    assert 'data-mode="outdoor_praise"' in form and 'type="hidden" name="category" value="praise"' in form
    made = page(client, f"/cases/code/{outdoor.token}/praise/", {"category": "praise", "title": "帮邻居搬东西"})
    assert made.status_code == 302
    [case] = cases_of(world)
    assert case.channel == "outdoor_praise" and case.household_id == world.places["h3"].pk


def test_contact_page_gives_everyone_the_duty_numbers_to_call(world):
    from modules.registry.models import Community

    with tenant_context(world.district):
        Community.objects.filter(code="C01").update(police_contact="王警官 13912345678")
    connection.set_schema_to_public()
    _inside, outdoor = _codes(world)
    url = f"/cases/code/{outdoor.token}/contact/"
    passerby = client_for(world.district).get(url)
    html = passerby.content.decode()
    assert passerby.status_code == 200 and "王警官" in html and 'href="tel:+8613912345678"' in html
    assert "****" not in html
    assert f"/cases/code/{outdoor.token}/report/" in html  # offered as well
    staff = client_for(world.district, world.gw1).get(url).content.decode()
    assert 'href="tel:+8613912345678"' in staff
    resident = client_for(world.district, world.reporter).get(url).content.decode()  # lives there
    assert 'href="tel:+8613912345678"' in resident
    assert cases_of(world) == []  # contacting makes no case


def test_household_code_report_is_for_its_residents(world):
    inside, _outdoor = _codes(world)
    url = f"/cases/code/{inside.token}/report/"
    assert 'data-action="report"' in client_for(world.district, world.reporter).get(
        f"/c/{inside.token}").content.decode()
    assert client_for(world.district, world.other_resident).get(url).status_code == 403
    assert client_for(world.district).get(url).status_code == 302
    made = page(client_for(world.district, world.reporter), url, {"category": "facility_damage", "title": "门禁坏了"})
    assert made.status_code == 302
    [case] = cases_of(world)
    assert case.channel == "snap" and case.household_id == world.places["h1"].pk


def test_merchant_request_through_the_merchant_code(world):
    from modules.codes.services import issue_codes
    from modules.registry import services as registry

    owner = make_user(world.district, "shopowner", "merchant")
    with tenant_context(world.district):
        shop = registry.create_merchant(actor=None, name="郑记面馆", owner=owner, grid=world.places["g1"])
        code = issue_codes(actor=None, merchant=shop)[0]
    connection.set_schema_to_public()
    url = f"/cases/code/{code.token}/request/"
    landing = client_for(world.district, owner).get(f"/c/{code.token}").content.decode()
    assert 'data-action="request"' in landing
    assert 'data-action="request"' not in client_for(world.district, world.reporter).get(
        f"/c/{code.token}").content.decode()
    assert client_for(world.district).get(url).status_code == 302
    assert client_for(world.district, world.reporter).get(url).status_code == 403
    client = client_for(world.district, owner)
    form = client.get(url).content.decode()
    assert 'data-mode="merchant_request"' in form and "郑记面馆" in form
    made = page(client, url, {"category": "merchant_help", "title": "门前道路破损影响营业"})
    assert made.status_code == 302
    [case] = cases_of(world)
    assert case.channel == "merchant_request" and case.merchant_id == shop.pk and case.grid_id
    with tenant_context(world.district):
        assert CaseEvent.objects.filter(case_id=case.pk, kind="submitted").exists()


def test_pages_answer_on_the_district_host_only(world):
    from rest_framework.test import APIClient

    other = APIClient(HTTP_HOST=host("laixi"))  # cases is off there
    assert other.get("/cases/report/").status_code == 404
