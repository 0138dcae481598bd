"""The district-side pages of this part in zh-Hans: no English word, no message missing from the
catalogue (the checks of tests/i18n/test_zh_hans_pages.py): the invitation (open and used), the
"being set up" page, the set-up card and the staff banners (not live, past due, suspended, archived)."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts import invitations
from tenants.models import District
from tenants.services import set_status
from tests.conftest import admin_of, client_for
from tests.i18n.test_zh_hans_pages import CatalogueMisses, english_words

pytestmark = pytest.mark.django_db


def zh(client):
    client.cookies["django_language"] = "zh-hans"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-Hans"
    return client


def test_the_lifecycle_pages_are_in_chinese(not_live):
    District.objects.filter(pk=not_live.pk).update(name_zh="东胜区", title_zh="东胜码上生活")
    from tenants.middleware import forget_hosts

    forget_hosts()
    with tenant_context(not_live):
        _user, url = invitations.invite_admin(actor=None, username="chief", display_name="王主任")
    connection.set_schema_to_public()
    path = urlparse(url).path
    admin = zh(client_for(not_live, admin_of(not_live)))
    pages = {}
    with CatalogueMisses() as misses:
        pages["invite"] = zh(client_for(not_live)).get(path)
        pages["invite weak"] = zh(client_for(not_live)).post(path, {"password": "1", "password2": "2"})
        pages["setting up"] = zh(client_for(not_live)).get("/")
        pages["manage (not live)"] = admin.get("/manage/")
        for status in ("past_due", "suspended", "archived"):
            set_status(actor=None, district=District.objects.get(pk=not_live.pk), status=status, reason="test")
            connection.set_schema_to_public()
            pages[f"manage ({status})"] = admin.get("/manage/")
        pages["archived write"] = admin.post("/manage/", {"key": "points", "on": "1"})
        with tenant_context(not_live):
            invitations.accept(token=path.split("/")[2], password="Lantern-Fjord-42")
        pages["invite used"] = zh(client_for(not_live)).get(path)
    found = {name: english_words(r.content.decode()) for name, r in pages.items()}
    assert {name: words for name, words in found.items() if words} == {}
    assert not misses.missed, sorted(misses.missed)
    assert 'data-status="archived"' in pages["manage (archived)"].content.decode()
