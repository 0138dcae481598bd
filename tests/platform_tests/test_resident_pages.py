"""The resident portal's frame without a browser: the 消息 tab follows the inbox, homes promise only
their modules, error pages speak one language and lead home (a suspended district's does not), and
the favicon comes in the district's colour."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django_tenants.utils import tenant_context

from tests.conftest import client_for, host, make_user

pytestmark = pytest.mark.django_db


def _zh(district):
    client = client_for(district)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    return client


def _home(district, **extra) -> str:
    request = RequestFactory().get("/", HTTP_HOST=host(district.slug), HTTP_ACCEPT_LANGUAGE="zh-CN")
    request.tenant, request.user = district, AnonymousUser()
    with tenant_context(district):
        html = render_to_string("portal/home.html", {"modules": [], **extra}, request=request)
    connection.set_schema_to_public()
    return html


def test_the_messages_tab_shows_where_there_is_an_inbox_with_its_count(kangbashi):
    html = _home(kangbashi, inbox_url="/messages/", unread_count=3)
    assert 'data-tab="messages"' in html and 'href="/messages/"' in html
    assert 'data-testid="unread-count">3<' in html
    assert 'data-testid="unread-count">99+<' in _home(kangbashi, inbox_url="/messages/", unread_count=120)
    assert 'data-tab="messages"' not in _home(kangbashi)


def test_homes_promise_and_offer_only_the_enabled_modules(kangbashi, dongsheng, laixi):
    kbs, ds, lx = (_zh(d).get("/").content.decode() for d in (kangbashi, dongsheng, laixi))
    assert "随手拍" in kbs and "积分" in kbs and 'data-tab="cases"' in kbs
    assert "积分" not in ds.split('data-testid="module-list"')[0]  # dongsheng: points off
    assert "随手拍" not in lx and 'data-tab="cases"' not in lx  # laixi: cases off
    assert "积分" in lx


def test_a_residents_personal_home_shows_their_figures(world):
    from modules.registry.models import Resident

    with tenant_context(world.district):
        assert Resident.objects.filter(user=world.reporter).exists()
    connection.set_schema_to_public()
    html = client_for(world.district, world.reporter).get("/me/").content.decode()
    assert 'data-figure="open_cases"' in html and 'data-figure="points"' in html  # kangbashi has both


def test_error_pages_speak_one_language_and_lead_home(kangbashi):
    zh = _zh(kangbashi).get("/no-such-page/")
    html = zh.content.decode()
    assert zh.status_code == 404 and "页面不存在" in html and "Not found" not in html
    assert 'data-testid="error-home"' in html and "返回首页" in html and "#c62828" in html
    english = client_for(kangbashi)
    english.cookies["django_language"] = "en"  # chosen with the language switch
    en = english.get("/no-such-page/").content.decode()
    assert "Not found" in en and "页面不存在" not in en and "Back to the home page" in en
    resident = client_for(kangbashi, make_user(kangbashi, "res-403", "resident"))
    resident.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    forbidden = resident.get("/manage/")
    assert forbidden.status_code == 403 and "您没有权限执行此操作" in forbidden.content.decode()
    assert 'data-testid="error-home"' in forbidden.content.decode()


def test_a_suspended_districts_page_is_branded_without_a_way_into_it(kangbashi):
    from tenants.models import District

    District.objects.filter(pk=kangbashi.pk).update(status="suspended", primary_color="#2e7d32")
    from tenants.middleware import forget_hosts

    forget_hosts()
    response = _zh(kangbashi).get("/")
    html = response.content.decode()
    assert response.status_code == 403 and "此区县的服务已暂停" in html and "#2e7d32" in html
    assert 'data-testid="error-brand"' in html and 'data-testid="error-home"' not in html


def test_the_favicon_is_drawn_in_the_districts_colour(kangbashi):
    client = client_for(kangbashi)
    svg = client.get("/favicon.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml" and "#c62828" in svg.content.decode()
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.content[:4] == b"\x00\x00\x01\x00"
    png = client.get("/apple-touch-icon.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert 'rel="icon" href="/favicon.svg"' in client.get("/").content.decode()


def test_the_praise_page_promises_points_only_where_points_are_on(kangbashi, dongsheng):
    from tests.codes.conftest import build_place, issue_all

    for district, points_on in ((kangbashi, True), (dongsheng, False)):
        token = issue_all(build_place(district, prefix="W"))["h1_outdoor"].token
        response = _zh(district).get(f"/cases/code/{token}/praise/")
        assert response.status_code == 200
        main = response.content.decode().split("<main>", 1)[1]
        assert ("积分" in main or "加分" in main) is points_on
