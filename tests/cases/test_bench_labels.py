"""The work bench names its button by what the viewer may do (查看 / 处理, from
``services.allowed_actions``), and a case's place reads as words with a link that opens a map app."""
from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from modules.cases import services
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def zh(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    return client


def _button(html: str, section: str, ref: str) -> str:
    part = html.split(f'data-testid="{section}"')[1]
    card = part.split(f'data-ref="{ref}"')[1].split('data-testid="case-card"')[0]
    return card.split('data-testid="open"')[1].split("</a>")[0]


def test_the_open_button_says_handle_to_who_may_act_and_view_to_who_only_watches(world):
    d = world.district
    with tenant_context(d):
        case = services.submit_case(actor=world.reporter, channel="snap", category="parking", title="乱停车",
                                    household=world.places["h1"], now=timezone.now() - dt.timedelta(days=20))
        case = services.grab_case(actor=world.gw1, case=case)
        mine = services.submit_case(actor=world.reporter, channel="snap", category="parking", title="又停车",
                                    household=world.places["h1"])
        mine = services.grab_case(actor=world.gw1, case=mine)
    connection.set_schema_to_public()
    owner = zh(client_for(d, world.gw1)).get("/cases/pool/").content.decode()
    assert ">处理" in _button(owner, "work", mine.ref)
    watcher = zh(client_for(d, world.gw1b)).get("/cases/pool/").content.decode()  # same grid, not the handler
    assert ">查看" in _button(watcher, "attention", case.ref)
    supervisor = zh(client_for(d, world.staff_c1)).get("/cases/pool/").content.decode()  # may transfer or return it
    assert ">处理" in _button(supervisor, "attention", case.ref)
    assert "在办" not in _button(owner, "work", mine.ref)


def test_the_place_is_an_address_with_a_map_link_not_bare_coordinates(world):
    d = world.district
    with tenant_context(d):
        case = services.submit_case(actor=world.reporter, channel="snap", category="parking", title="井盖缺失",
                                    household=world.places["h1"], address="康巴什区青春路 12 号门口",
                                    latitude="39.608500", longitude="109.781200")
        services.grab_case(actor=world.gw1, case=case)
    connection.set_schema_to_public()
    page = zh(client_for(d, world.gw1)).get(f"/cases/{case.ref}/").content.decode()
    position = page.split('data-testid="case-position"')[1].split("</dd>")[0]
    assert "康巴什区青春路 12 号门口" in position
    assert "39.608500, 109.781200<" not in position  # the numbers are no longer the place
    amap = position.split('data-testid="map-link"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    query = parse_qs(urlparse(amap).query)
    assert urlparse(amap).netloc == "uri.amap.com"
    assert query["position"] == ["109.781200,39.608500"] and query["coordinate"] == ["wgs84"]
    assert 'href="geo:39.608500,109.781200?q=39.608500,109.781200(' in position
    bench = zh(client_for(d, world.gw1)).get("/cases/pool/").content.decode()
    card = bench.split(f'data-ref="{case.ref}"')[1].split('data-testid="case-card"')[0]
    assert "uri.amap.com/marker" in card and 'data-testid="map-link"' in card
