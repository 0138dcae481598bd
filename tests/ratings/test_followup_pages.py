"""The follow-up pages and API: who opens what, the forms write through the services, the module
switched off answers 404, the OpenAPI schema tells the truth, and the pages in zh-Hans have no English
"""
from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django.test import Client
from django_tenants.utils import tenant_context

from tests.conftest import client_for, host
from tests.ratings.conftest import add_rating


@pytest.fixture
def world(rw):
    """Inside Kangbashi: a bad rating of o1 by res1 (its follow-up open), a bad rating of the shop by
    res2 (called back), each with its FollowUp; then back to the public schema for the clients."""
    from modules.ratings.followup import services

    with tenant_context(rw.district):
        of_official = add_rating(official=rw.o1, level=1, rater=rw.res1, comment="办事拖拉")
        of_shop = add_rating(merchant=rw.shop, level=2, rater=rw.res2, comment="服务一般")
        with transaction.atomic():
            open_one = services.open_follow_up(rating=of_official)
            called = services.open_follow_up(rating=of_shop)
        services.record_callback(actor=rw.gw1, follow_up=called, outcome="fixed_now", note="已道歉并整改",
                                 reached=True)
    connection.set_schema_to_public()
    return rw, of_official, of_shop, open_one, called


def _in(rw):
    return tenant_context(rw.district)


def test_staff_pages_and_the_callback_form(world):
    from modules.ratings.followup.models import FollowUp

    rw, of_official, _, open_one, called = world
    head = client_for(rw.district, rw.head)
    page = head.get("/ratings/staff/follow-ups/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-follow-up="{open_one.pk}"' in html and f'data-follow-up="{called.pk}"' not in html  # not their unit
    detail = head.get(f"/ratings/staff/follow-ups/{open_one.pk}/").content.decode()
    assert "139****5601" in detail and 'href="tel:+8613912345601"' in detail  # the rater's phone, to call
    assert client_for(rw.district, rw.gw1).get(f"/ratings/staff/follow-ups/{open_one.pk}/").status_code == 404
    assert client_for(rw.district, rw.res1).get("/ratings/staff/follow-ups/").status_code == 403
    assert client_for(rw.district, rw.o1_user).get(f"/ratings/staff/follow-ups/{open_one.pk}/").status_code == 404

    bad = head.post(f"/ratings/staff/follow-ups/{open_one.pk}/", {"outcome": "fixed_by_deadline", "reached": "yes",
                                                                  "note": "下周整改", "fix_by": "2000-01-01"})
    assert bad.status_code == 400 and 'data-testid="callback-error"' in bad.content.decode()
    fix_by = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    done = head.post(f"/ratings/staff/follow-ups/{open_one.pk}/", {"outcome": "fixed_by_deadline", "reached": "yes",
                                                                   "note": "下周整改", "fix_by": fix_by})
    assert done.status_code == 302
    with _in(rw):
        item = FollowUp.objects.get(pk=open_one.pk)
        assert (item.status, item.outcome, item.fix_by.isoformat(), item.called_by_id) == (
            "done", "fixed_by_deadline", fix_by, rw.head.pk)
    connection.set_schema_to_public()


def test_appeal_pages_from_the_subject_to_the_reviewer(world):
    from modules.ratings.followup.models import Appeal
    from modules.ratings.ledger.models import Rating

    rw, of_official, *_ = world
    assert client_for(rw.district, rw.o2_user).get(f"/ratings/appeal/{of_official.pk}/").status_code == 404
    subject = client_for(rw.district, rw.o1_user)
    page = subject.get(f"/ratings/appeal/{of_official.pk}/").content.decode()
    assert "办事拖拉" in page and "rt_res1" not in page and "居民r1" not in page  # never who rated
    assert subject.post(f"/ratings/appeal/{of_official.pk}/", {"reason": "当天我休假"}).status_code == 302
    assert subject.post(f"/ratings/appeal/{of_official.pk}/", {"reason": "再来一次"}).status_code == 409
    with _in(rw):
        appeal = Appeal.objects.get(rating=of_official)
    connection.set_schema_to_public()
    assert client_for(rw.district, rw.head).get("/ratings/staff/appeals/").status_code == 403
    admin = client_for(rw.district, rw.admin)
    assert f'data-appeal="{appeal.pk}"' in admin.get("/ratings/staff/appeals/").content.decode()
    assert admin.post(f"/ratings/staff/appeals/{appeal.pk}/", {"decision": "upheld", "reason": ""}).status_code == 400
    assert admin.post(f"/ratings/staff/appeals/{appeal.pk}/",
                      {"decision": "upheld", "reason": "考勤记录证明当天休假"}).status_code == 302
    with _in(rw):
        assert Rating.objects.get(pk=of_official.pk).state == "removed"
    connection.set_schema_to_public()


def test_follow_on_and_reply_pages(world):
    from modules.ratings.followup.models import Reply
    from modules.ratings.ledger.models import Rating

    rw, of_official, of_shop, *_ = world
    rater = client_for(rw.district, rw.res2)
    assert client_for(rw.district, rw.res1).get(f"/ratings/follow-on/{of_shop.pk}/").status_code == 404
    assert 'data-testid="follow-on-form"' in rater.get(f"/ratings/follow-on/{of_shop.pk}/").content.decode()
    not_yet = client_for(rw.district, rw.res1).get(f"/ratings/follow-on/{of_official.pk}/").content.decode()
    assert 'data-testid="follow-on-not-yet"' in not_yet  # not called back yet
    assert rater.post(f"/ratings/follow-on/{of_shop.pk}/", {"level": "4", "comment": "改进了"}).status_code == 302
    assert 'data-testid="follow-on-added"' in rater.get(f"/ratings/follow-on/{of_shop.pk}/").content.decode()
    assert rater.post(f"/ratings/follow-on/{of_shop.pk}/", {"level": "5"}).status_code == 409
    owner = client_for(rw.district, rw.shop_owner)
    assert client_for(rw.district, rw.res2).get(f"/ratings/reply/{of_shop.pk}/").status_code == 404
    assert owner.get(f"/ratings/reply/{of_official.pk}/").status_code == 404
    assert owner.post(f"/ratings/reply/{of_shop.pk}/", {"text": "感谢您的意见"}).status_code == 302
    with _in(rw):
        assert Rating.objects.filter(follow_on_of=of_shop, level=4).count() == 1
        assert Reply.objects.get(rating=of_shop).text == "感谢您的意见"
    connection.set_schema_to_public()


def test_the_api(world):
    rw, of_official, of_shop, open_one, called = world
    head = client_for(rw.district, rw.head, token=True)
    listed = head.get("/api/v1/ratings/follow-ups/").json()
    assert [r["id"] for r in listed["results"]] == [open_one.pk]
    assert listed["results"][0]["rater_phone_masked"] == "139****5601"
    assert head.get(f"/api/v1/ratings/follow-ups/{called.pk}/").status_code == 404
    rate = head.get("/api/v1/ratings/follow-ups/rate/").json()
    assert rate["overall"] == {"total": 1, "called": 0, "overdue": 0, "percent": 0.0}
    refused = client_for(rw.district, rw.gw1).post(f"/api/v1/ratings/follow-ups/{open_one.pk}/callback/",
                                                   {"outcome": "explained", "reached": True, "note": "x"}, format="json")
    assert refused.status_code == 403
    wrong = head.post(f"/api/v1/ratings/follow-ups/{open_one.pk}/callback/",
                      {"outcome": "fixed_by_deadline", "reached": True, "note": "限期"}, format="json")
    assert wrong.status_code == 400 and "fix_by" in wrong.json()["error"]["fields"]
    done = head.post(f"/api/v1/ratings/follow-ups/{open_one.pk}/callback/",
                     {"outcome": "explained", "reached": True, "note": "已解释"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "done"

    subject = client_for(rw.district, rw.o1_user)
    assert client_for(rw.district, rw.o2_user).post("/api/v1/ratings/appeals/", {
        "rating": of_official.pk, "reason": "不是我"}, format="json").status_code == 403
    filed = subject.post("/api/v1/ratings/appeals/", {"rating": of_official.pk, "reason": "恶意"}, format="json")
    assert filed.status_code == 201
    assert subject.post("/api/v1/ratings/appeals/", {"rating": of_official.pk, "reason": "又来"},
                        format="json").status_code == 409
    assert [a["id"] for a in subject.get("/api/v1/ratings/appeals/").json()["results"]] == [filed.json()["id"]]
    assert client_for(rw.district, rw.head).get("/api/v1/ratings/appeals/").json()["results"] == []
    assert subject.post(f"/api/v1/ratings/appeals/{filed.json()['id']}/decide/",
                        {"decision": "upheld", "reason": "我说了算"}, format="json").status_code == 403
    admin = client_for(rw.district, rw.admin)
    decided = admin.post(f"/api/v1/ratings/appeals/{filed.json()['id']}/decide/",
                         {"decision": "dismissed", "reason": "无证据"}, format="json")
    assert decided.status_code == 200 and decided.json()["rating_state"] == "counted"

    rater = client_for(rw.district, rw.res1)
    assert client_for(rw.district, rw.res2).post(f"/api/v1/ratings/ratings/{of_official.pk}/follow-on/",
                                                 {"level": 5}, format="json").status_code == 404
    added = rater.post(f"/api/v1/ratings/ratings/{of_official.pk}/follow-on/", {"level": 5, "comment": "好了"},
                       format="json")
    assert added.status_code == 201 and added.json()["follow_on_of_id"] == of_official.pk
    owner = client_for(rw.district, rw.shop_owner)
    assert rater.put(f"/api/v1/ratings/ratings/{of_shop.pk}/reply/", {"text": "x"}, format="json").status_code == 403
    replied = owner.put(f"/api/v1/ratings/ratings/{of_shop.pk}/reply/", {"text": "谢谢"}, format="json")
    assert replied.status_code == 200 and rater.get(f"/api/v1/ratings/ratings/{of_shop.pk}/reply/").json()["text"] == "谢谢"

    schema = client_for(rw.district, rw.admin).get("/api/schema/?format=json").json()
    for path in ("/api/v1/ratings/follow-ups/", "/api/v1/ratings/follow-ups/{id}/callback/",
                 "/api/v1/ratings/follow-ups/rate/", "/api/v1/ratings/appeals/", "/api/v1/ratings/appeals/{id}/decide/",
                 "/api/v1/ratings/ratings/{id}/follow-on/", "/api/v1/ratings/ratings/{id}/reply/"):
        assert path in schema["paths"], path
    body = schema["paths"]["/api/v1/ratings/follow-ups/{id}/callback/"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/RatingsCallbackRequest")


def test_module_off_no_pages(world):
    from tenants.middleware import forget_hosts
    from tenants.models import District

    rw, of_official, _, open_one, _ = world
    District.objects.filter(pk=rw.district.pk).update(modules=[m for m in rw.district.modules if m != "ratings"])
    forget_hosts()
    admin = client_for(rw.district, rw.admin)
    for url in ("/ratings/staff/follow-ups/", f"/ratings/staff/follow-ups/{open_one.pk}/", "/ratings/staff/appeals/",
                f"/ratings/appeal/{of_official.pk}/", f"/ratings/follow-on/{of_official.pk}/",
                f"/ratings/reply/{of_official.pk}/", "/api/v1/ratings/follow-ups/"):
        assert admin.get(url).status_code == 404, url


def test_the_pages_are_in_chinese(world):
    from tests.i18n.test_zh_hans_pages import CatalogueMisses, english_words

    rw, of_official, of_shop, open_one, called = world
    pages = [(rw.head, "/ratings/staff/follow-ups/"), (rw.head, f"/ratings/staff/follow-ups/{open_one.pk}/"),
             (rw.gw1, f"/ratings/staff/follow-ups/{called.pk}/"), (rw.o1_user, f"/ratings/appeal/{of_official.pk}/"),
             (rw.res2, f"/ratings/follow-on/{of_shop.pk}/"), (rw.res1, f"/ratings/follow-on/{of_official.pk}/"),
             (rw.shop_owner, f"/ratings/reply/{of_shop.pk}/")]
    problems, opened = {}, []
    with CatalogueMisses() as misses:
        for user, url in pages:
            opened.append(_zh_page(rw, user, url, problems, english_words))
        appeal = client_for(rw.district, rw.o1_user).post(f"/ratings/appeal/{of_official.pk}/", {"reason": "休假"})
        assert appeal.status_code == 302
        from modules.ratings.followup.models import Appeal

        with _in(rw):
            pk = Appeal.objects.get(rating=of_official).pk
        connection.set_schema_to_public()
        for url in ("/ratings/staff/appeals/", f"/ratings/staff/appeals/{pk}/"):
            opened.append(_zh_page(rw, rw.admin, url, problems, english_words))
    assert all(opened)
    assert not misses.missed, "\n".join(sorted(misses.missed))
    assert not problems, problems


def _zh_page(rw, user, url, problems, english_words) -> bool:
    client = Client(HTTP_HOST=host(rw.district.slug), HTTP_ACCEPT_LANGUAGE="zh-Hans")
    with _in(rw):
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    connection.set_schema_to_public()
    response = client.get(url)
    html = response.content.decode()
    words = english_words(html[html.index("<main"):html.index("</main>")] if "<main" in html else html)
    if words:
        problems[url] = words
    return response.status_code == 200
