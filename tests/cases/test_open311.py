"""Open311 GeoReport v2 on each district host: discovery, services and definitions, requests
create / list / get, tokens; JSON and XML; Open311 errors; district isolation; module gate."""
import datetime as dt
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from kernel.api import AnonThrottle
from modules.cases import integrations, services
from modules.cases.calendar import TZ
from modules.cases.models import Case
from tests.conftest import admin_of, client_for, host

pytestmark = pytest.mark.django_db
V2 = "/open311/v2/"
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]


def key_for(district, kind="open311"):
    with tenant_context(district):
        integration, key = integrations.create_integration(actor=admin_of(district), name=f"{kind} client",
                                                           kind=kind)
    connection.set_schema_to_public()
    return integration, key


def form_post(client, url, data):
    """What 311 clients send: application/x-www-form-urlencoded."""
    return client.post(url, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded")


def as_xml(response):
    assert response["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(XML_DECLARATION)
    return ET.fromstring(response.content)


def as_json(response):
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def errors_json(response, status):
    assert response.status_code == status, response.content
    body = as_json(response)
    assert isinstance(body, list) and body and all(set(e) == {"code", "description"} for e in body)
    assert all(e["code"] == status and e["description"] for e in body)
    return [e["description"] for e in body]


def errors_xml(response, status):
    assert response.status_code == status, response.content
    root = as_xml(response)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"] * len(root) and len(root)
    assert all(e.findtext("code") == str(status) and e.findtext("description") for e in root)
    return [e.findtext("description") for e in root]


def cases_in(district):
    with tenant_context(district):
        return {c.ref: c for c in Case.objects.select_related("integration")}


def file_request(district, key, **extra):
    data = {"api_key": key, "service_code": "noise", "lat": "39.608123", "long": "109.781456",
            "description": "广场舞音响太大\n每晚九点以后"} | extra
    made = form_post(client_for(district), f"{V2}requests.json", data)
    assert made.status_code == 201, made.content
    return made.json()[0]["service_request_id"]


# --- discovery, services, definitions ---------------------------------------------------------------

def test_discovery_in_json_and_xml(world):
    client = client_for(world.district)
    doc = as_json(client.get("/open311/discovery.json", secure=True))
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    assert doc["changeset"].endswith("+08:00") and doc["contact"] and doc["key_service"]
    assert doc["endpoints"] == [{"specification": "http://wiki.open311.org/GeoReport_v2",
                                 "url": "https://kangbashi.localhost/open311/v2/", "changeset": doc["changeset"],
                                 "type": "production", "formats": ["application/json", "text/xml"]}]
    root = as_xml(client.get("/open311/discovery.xml", secure=True))
    assert root.tag == "discovery" and root.findtext("changeset") == doc["changeset"]
    endpoint = root.find("endpoints/endpoint")
    assert endpoint.findtext("url") == "https://kangbashi.localhost/open311/v2/"
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in endpoint.findall("formats/format")] == ["application/json", "text/xml"]
    assert as_xml(client.get(V2)).tag == "discovery"  # the endpoint's root points back to discovery


def test_services_in_json_and_xml_in_the_callers_language(world):
    with tenant_context(world.district):
        services.save_category(actor=None, code="retired", name_zh="停用", active=False)
    english = as_json(client_for(world.district).get(f"{V2}services.json"))
    codes = [s["service_code"] for s in english]
    assert "noise" in codes and "corridor_clutter" in codes and "retired" not in codes
    noise = next(s for s in english if s["service_code"] == "noise")
    assert set(noise) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
    assert noise["service_name"] == "Noise" and noise["metadata"] is False and noise["type"] == "realtime"
    assert "噪音扰民" in noise["keywords"] and noise["description"] and noise["group"]

    chinese = APIClient(HTTP_HOST=host("kangbashi"))  # no Accept-Language: Chinese first
    zh = as_json(chinese.get(f"{V2}services.json"))
    assert next(s for s in zh if s["service_code"] == "noise")["service_name"] == "噪音扰民"

    root = as_xml(chinese.get(f"{V2}services.xml"))
    assert root.tag == "services" and {e.tag for e in root} == {"service"}
    assert [e.findtext("service_code") for e in root] == codes
    noise_xml = next(e for e in root if e.findtext("service_code") == "noise")
    assert noise_xml.findtext("service_name") == "噪音扰民" and noise_xml.findtext("metadata") == "false"
    assert noise_xml.findtext("type") == "realtime"


def test_service_definition_and_unknown_code(world):
    client = client_for(world.district)
    assert as_json(client.get(f"{V2}services/noise.json")) == {"service_code": "noise", "attributes": []}
    root = as_xml(client.get(f"{V2}services/noise.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "noise"
    assert root.find("attributes") is not None and len(root.find("attributes")) == 0
    assert "nope" in errors_json(client.get(f"{V2}services/nope.json"), 404)[0]
    errors_xml(client.get(f"{V2}services/nope.xml"), 404)


# --- POST requests ----------------------------------------------------------------------------------

def test_create_form_encoded_json_files_an_open311_case(world):
    d = world.district
    integration, key = key_for(d)
    client = APIClient(HTTP_HOST=host(d.slug), HTTP_ACCEPT_LANGUAGE="en", enforce_csrf_checks=True)  # no CSRF token
    made = form_post(client, f"{V2}requests.json", {
        "api_key": key, "jurisdiction_id": "kangbashi.localhost", "service_code": "noise",
        "lat": "39.608123", "long": "109.781456", "address_string": "康和路与青春山路口",
        "description": "广场舞音响太大\n每晚九点以后", "first_name": "三", "last_name": "张",
        "email": "zhang@example.com", "phone": "13912345678", "device_id": "dev-1", "account_id": "acc-1",
        "media_url": "https://img.example.com/1.jpg"})
    assert made.status_code == 201, made.content
    body = as_json(made)
    assert len(body) == 1 and set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    ref = body[0]["service_request_id"]
    assert body[0]["account_id"] is None and body[0]["service_notice"]
    case = cases_in(d)[ref]
    assert case.channel == "open311" and case.integration == integration and case.category.code == "noise"
    assert case.title == "广场舞音响太大" and case.address == "康和路与青春山路口"
    assert case.description == "广场舞音响太大\n每晚九点以后" and case.media_url == "https://img.example.com/1.jpg"
    assert str(case.latitude) == "39.608123" and str(case.longitude) == "109.781456"
    assert case.reporter_contact_masked == "139****5678" and "13912345678" not in case.reporter_contact_encrypted

    got = client_for(d).get(f"{V2}requests/{ref}.json")
    one = as_json(got)
    assert len(one) == 1 and list(one[0]) == REQUEST_FIELDS
    expected = dt.datetime.fromisoformat(one[0]["expected_datetime"])
    assert expected == case.resolution_due.replace(microsecond=0) and one[0]["expected_datetime"].endswith("+08:00")
    assert dt.datetime.fromisoformat(one[0]["requested_datetime"]) == case.submitted_at.replace(microsecond=0)
    assert one[0]["status"] == "open" and one[0]["service_code"] == "noise" and one[0]["service_name"] == "Noise"
    assert one[0]["lat"] == 39.608123 and one[0]["long"] == 109.781456
    assert one[0]["agency_responsible"] == "district supervision"
    assert one[0]["media_url"] == "https://img.example.com/1.jpg"  # no stored photo: the reporter's link
    for private in (b"13912345678", b"139****5678", b"zhang@example.com", "张".encode(), b"dev-1", b"acc-1"):
        assert private not in got.content


def test_create_xml_multipart_with_address_id_routes_to_the_compound_grid(world):
    d = world.district
    integration, key = key_for(d)
    made = client_for(d).post(f"{V2}requests.xml", {"api_key": key, "service_code": "corridor_clutter",
                                                      "address_id": "X01"})  # multipart
    assert made.status_code == 201, made.content
    root = as_xml(made)
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    ref = root.findtext("request/service_request_id")
    assert root.find("request/account_id").text is None  # <account_id/>
    assert root.find("request/token") is None  # realtime: the id, not a token
    case = cases_in(d)[ref]
    assert case.integration == integration and case.compound.code == "X01" and case.grid.code == "G0101"
    assert case.assignee == world.gw1 and case.title == "楼道堆物" and case.address == "康和小区"

    detail = as_xml(client_for(d).get(f"{V2}requests/{ref}.xml"))
    request = detail.find("request")
    assert detail.tag == "service_requests" and [e.tag for e in request] == REQUEST_FIELDS
    assert request.findtext("address_id") == "X01" and request.findtext("agency_responsible") == "第一网格"
    assert request.findtext("status") == "open" and request.findtext("status_notes") == "assigned"
    expected = dt.datetime.fromisoformat(request.findtext("expected_datetime"))
    assert expected == case.resolution_due.replace(microsecond=0)
    assert request.findtext("expected_datetime").endswith("+08:00")


def test_api_key_missing_invalid_or_of_another_kind_is_403(world):
    d = world.district
    _hotline, hotline_key = key_for(d, "hotline")
    _open311, key = key_for(d)
    body = {"service_code": "noise", "lat": "39.6", "long": "109.7"}
    client = client_for(d)
    assert "api_key" in errors_json(form_post(client, f"{V2}requests.json", body), 403)[0]
    errors_json(form_post(client, f"{V2}requests.json", body | {"api_key": "msk_nope_nope"}), 403)
    errors_xml(form_post(client, f"{V2}requests.xml", body | {"api_key": "wrong"}), 403)
    errors_json(form_post(client, f"{V2}requests.json", body | {"api_key": hotline_key}), 403)
    # the key is checked before the fields: an unauthenticated caller learns nothing about them
    errors_json(form_post(client, f"{V2}requests.json", {"api_key": "wrong"}), 403)
    with tenant_context(d):
        integrations.update_integration(actor=admin_of(d), integration=_open311, active=False)
    errors_json(form_post(client, f"{V2}requests.json", body | {"api_key": key}), 403)
    assert cases_in(d) == {}


def test_missing_and_bad_fields_are_400_and_nothing_is_saved(world):
    d = world.district
    _integration, key = key_for(d)
    client = client_for(d)
    both = errors_json(form_post(client, f"{V2}requests.json", {"api_key": key}), 400)
    assert len(both) == 2 and "service_code" in both[0] and "location" in both[1]
    assert len(errors_xml(form_post(client, f"{V2}requests.xml", {"api_key": key}), 400)) == 2
    only_lat = errors_json(form_post(client, f"{V2}requests.json", {"api_key": key, "service_code": "noise",
                                                                    "lat": "39.6"}), 400)
    assert "lat and long" in only_lat[0]
    base = {"api_key": key, "service_code": "noise", "lat": "39.6", "long": "109.7"}
    assert "nope" in errors_json(form_post(client, f"{V2}requests.json", base | {"service_code": "nope"}), 404)[0]
    assert errors_json(form_post(client, f"{V2}requests.json", base | {"phone": "12345"}), 400)[0].startswith(
        "phone:")
    assert errors_json(form_post(client, f"{V2}requests.json", base | {"lat": "north"}), 400)[0].startswith("lat:")
    assert errors_json(form_post(client, f"{V2}requests.json", base | {"lat": "95"}), 400)[0].startswith("lat:")
    assert errors_json(form_post(client, f"{V2}requests.json", base | {"description": "x" * 2001}), 400)[
        0].startswith("description:")
    errors_json(form_post(client, f"{V2}requests.json", base | {"media_url": "javascript:alert(1)"}), 400)
    assert "address_id" in errors_json(form_post(client, f"{V2}requests.json", {
        "api_key": key, "service_code": "noise", "address_id": "NOWHERE"}), 400)[0]
    errors_json(form_post(client, f"{V2}requests.json", base | {"jurisdiction_id": "dongsheng.localhost"}), 404)
    assert cases_in(d) == {}


# --- GET requests -----------------------------------------------------------------------------------

def test_list_with_filters(world):
    d = world.district
    _integration, key = key_for(d)
    noise = file_request(d, key)
    clutter = file_request(d, key, service_code="corridor_clutter", description="楼道堆物")
    with tenant_context(d):
        now = timezone.now()
        services.reject_case(actor=world.admin, case=Case.objects.get(ref=clutter),
                             reason="not_our_responsibility", note="归物业管理")
        snap = services.submit_case(actor=world.reporter, channel="snap", category="facility_damage",
                                    title="路灯坏了", latitude="39.61", longitude="109.78").ref
        outdoor = services.submit_case(actor=world.reporter, channel="outdoor_report", category="corridor_clutter",
                                       title="某户堆物", household=world.places["h3"]).ref
        old = services.submit_case(actor=None, channel="open311", integration=_integration, category="noise",
                                   title="旧的", address="旧址", now=now - dt.timedelta(days=120)).ref
    connection.set_schema_to_public()
    client = client_for(d)

    def refs(query=""):
        return [r["service_request_id"] for r in as_json(client.get(f"{V2}requests.json{query}"))]

    assert refs() == [snap, clutter, noise]  # newest first; the 120-day-old one is out of the default window
    assert outdoor not in refs() and set(refs("?status=open")) == {snap, noise}
    assert refs("?status=closed") == [clutter] and set(refs("?status=open,closed")) == {snap, clutter, noise}
    assert refs("?service_code=noise") == [noise]
    assert set(refs("?service_code=noise,corridor_clutter")) == {clutter, noise}
    assert set(refs("?service_code=noise&service_code=facility_damage")) == {snap, noise}
    window = {"start_date": (now - dt.timedelta(days=125)).isoformat(),
              "end_date": (now - dt.timedelta(days=100)).isoformat()}
    assert refs("?" + urlencode(window)) == [old]
    local_day = timezone.localtime(now - dt.timedelta(days=120), TZ).date().isoformat()
    assert refs(f"?start_date={local_day}&end_date={local_day}") == [old]
    assert refs("?" + urlencode({"start_date": (now - dt.timedelta(days=1)).isoformat()})) == [snap, clutter, noise]
    # ids override every other filter, and private channels stay private
    assert set(refs(f"?service_request_id={old},{outdoor},{noise}&status=closed")) == {old, noise}

    rows = {r["service_request_id"]: r for r in as_json(client.get(f"{V2}requests.json"))}
    assert rows[clutter]["status"] == "closed" and rows[clutter]["status_notes"] == "not our responsibility"
    assert rows[snap]["status_notes"] == "submitted" and rows[snap]["address"] is None
    assert all(list(r) == REQUEST_FIELDS for r in rows.values())

    root = as_xml(client.get(f"{V2}requests.xml?status=closed"))
    assert root.tag == "service_requests" and [e.findtext("service_request_id") for e in root] == [clutter]
    assert root.find("request/status").text == "closed"

    assert "status" in errors_json(client.get(f"{V2}requests.json?status=pending"), 400)[0]
    errors_json(client.get(f"{V2}requests.json?start_date=yesterday"), 400)
    errors_xml(client.get(f"{V2}requests.xml?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"), 400)
    errors_json(client.get(f"{V2}requests.json?start_date=2026-06-01T00:00:00Z&end_date=2026-05-01T00:00:00Z"), 400)


def test_closed_request_shows_its_result_and_close_time(world):
    d = world.district
    _integration, key = key_for(d)
    ref = form_post(client_for(d), f"{V2}requests.json", {"api_key": key, "service_code": "corridor_clutter",
                                                          "address_id": "X01"}).json()[0]["service_request_id"]
    with tenant_context(d):
        case = Case.objects.get(ref=ref)
        for step in (services.accept_case, services.start_case):
            case = step(actor=world.gw1, case=case)
        case = services.resolve_case(actor=world.gw1, case=case, result="已清理完毕")
    connection.set_schema_to_public()
    row = as_json(client_for(d).get(f"{V2}requests/{ref}.json"))[0]
    assert row["status"] == "closed" and row["status_notes"] == "已清理完毕"
    assert dt.datetime.fromisoformat(row["updated_datetime"]) == case.resolved_at.replace(microsecond=0)


def test_get_one_and_token_lookup(world):
    d = world.district
    _integration, key = key_for(d)
    ref = file_request(d, key)
    client = client_for(d)
    assert [r["service_request_id"] for r in as_json(client.get(f"{V2}requests/{ref}.json"))] == [ref]
    as_json_body = client.post(f"{V2}requests.json", {"api_key": key, "service_code": "noise", "lat": 39.6,
                                                      "long": 109.7}, format="json")  # some clients send JSON
    assert as_json_body.status_code == 201 and as_json_body.json()[0]["service_request_id"] in cases_in(d)
    assert as_json(client.get(f"{V2}tokens/{ref}.json")) == [{"service_request_id": ref, "token": ref}]
    token = as_xml(client.get(f"{V2}tokens/{ref}.xml"))
    assert token.tag == "service_requests" and token.findtext("request/service_request_id") == ref
    assert token.findtext("request/token") == ref
    errors_json(client.get(f"{V2}tokens/KAN-20000101-0001.json"), 404)
    errors_xml(client.get(f"{V2}requests/KAN-20000101-0001.xml"), 404)
    with tenant_context(d):
        outdoor = services.submit_case(actor=world.reporter, channel="outdoor_report", category="corridor_clutter",
                                       title="某户堆物", household=world.places["h3"]).ref
    errors_json(client.get(f"{V2}requests/{outdoor}.json"), 404)
    assert client.get(f"{V2}requests.json?jurisdiction_id=kangbashi").status_code == 200
    assert client.get(f"{V2}requests.json?jurisdiction_id=kangbashi.localhost").status_code == 200
    assert "jurisdiction_id" in errors_json(client.get(f"{V2}services.json?jurisdiction_id=sfgov.org"), 404)[0]


def test_xml_stays_well_formed_whatever_the_text(world):
    d = world.district
    _integration, key = key_for(d)
    ref = file_request(d, key, description="<b>&amp; \"quoted\" ]]> bell</b>")
    request = as_xml(client_for(d).get(f"{V2}requests/{ref}.xml")).find("request")
    assert request.findtext("description") == "<b>&amp; \"quoted\" ]]> bell</b>"
    assert as_json(client_for(d).get(f"{V2}requests/{ref}.json"))[0]["description"].endswith(" bell</b>")
    # control characters are refused at the door (kernel.text), so none reaches the XML
    refused = form_post(client_for(d), f"{V2}requests.json", {"api_key": key, "service_code": "noise",
                                                              "lat": "39.6", "long": "109.7", "description": "\x01bell"})
    assert refused.status_code == 400 and "control character" in refused.content.decode()


# --- isolation, gate, plumbing ----------------------------------------------------------------------

def test_another_district_sees_nothing_of_this_one(world, dongsheng):
    kangbashi = world.district
    _integration, key = key_for(kangbashi)
    ref = file_request(kangbashi, key)
    other = client_for(dongsheng)
    errors_json(other.get(f"{V2}requests/{ref}.json"), 404)
    errors_json(other.get(f"{V2}tokens/{ref}.json"), 404)
    assert ref not in [r["service_request_id"] for r in as_json(other.get(f"{V2}requests.json"))]
    # a key of one district opens nothing in another
    errors_json(form_post(other, f"{V2}requests.json", {"api_key": key, "service_code": "noise",
                                                        "address_string": "x"}), 403)
    assert as_json(other.get("/open311/discovery.json"))["endpoints"][0]["url"] == (
        "http://dongsheng.localhost/open311/v2/")


def test_module_off_answers_404(laixi):
    """In Open311's own error form: the host's 404 handler asks the cases spec's root mount for it."""
    client = client_for(laixi)
    for url in ("/open311/discovery.json", f"{V2}services.json"):
        errors_json(client.get(url), 404)
    errors_xml(client.get(f"{V2}requests.xml"), 404)
    errors_json(form_post(client, f"{V2}requests.json", {"service_code": "noise"}), 404)
    assert client.get("/cases/").status_code == 404 and b"<html" in client.get("/cases/").content.lower()


def test_unknown_resources_and_methods_answer_in_open311_form(world):
    client = client_for(world.district)
    errors_xml(client.get(f"{V2}services.html"), 404)
    errors_json(client.get(f"{V2}nothing/here.json"), 404)
    refused = client.delete(f"{V2}requests.json")
    errors_json(refused, 405)
    assert refused["Allow"] == "GET, HEAD, POST"
    errors_xml(client.post(f"{V2}services.xml", {}), 405)


def test_anonymous_reads_are_throttled(world, monkeypatch):
    monkeypatch.setattr(AnonThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    client = client_for(world.district)
    assert [client.get(f"{V2}services.json").status_code for _ in range(3)] == [200] * 3
    throttled = client.get(f"{V2}services.xml")
    errors_xml(throttled, 429)
    assert int(throttled["Retry-After"]) > 0


def test_api_schema_still_generates_without_open311(world):
    schema = client_for(world.district, world.admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    assert not [p for p in schema.json()["paths"] if p.startswith("/open311")]


def test_media_url_is_the_first_report_photo(world, settings, tmp_path):
    import io

    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils.functional import empty
    from PIL import Image

    from modules.cases import uploads

    settings.MEDIA_ROOT = tmp_path
    if default_storage._wrapped is not empty:  # django-tenants caches the media root
        default_storage._wrapped.__dict__.pop("relative_media_root", None)
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "JPEG")
    d = world.district
    with tenant_context(d):
        case = services.submit_case(actor=world.reporter, channel="snap", category="facility_damage",
                                    title="井盖缺失", address="康和路12号门前")
        photo, = uploads.attach(actor=world.reporter, case=case, prepared=uploads.prepare(
            [SimpleUploadedFile("p.jpg", buf.getvalue(), content_type="image/jpeg")]))
    connection.set_schema_to_public()
    row = as_json(client_for(d).get(f"{V2}requests/{case.ref}.json"))[0]
    assert row["media_url"] == f"http://kangbashi.localhost/api/v1/cases/{case.pk}/attachments/{photo.pk}/"
    assert row["address"] == "康和路12号门前" and row["lat"] is None and row["description"] == "井盖缺失"
