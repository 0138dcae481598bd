"""The OpenAPI document tells the truth about what the API answers (issue 10 item 14)."""
import pytest

from tests.conftest import admin_of, client_for, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(kangbashi):
    response = client_for(kangbashi).get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def resolve(doc, schema):
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def ok_schema(doc, path, method="get"):
    responses = doc["paths"][path][method]["responses"]
    code = "200" if "200" in responses else "201"
    schema = resolve(doc, responses[code]["content"]["application/json"]["schema"])
    if schema.get("type") == "array":
        schema = resolve(doc, schema["items"])
    elif "results" in schema.get("properties", {}):
        schema = resolve(doc, schema["properties"]["results"]["items"])
    return schema


@pytest.mark.parametrize("path,fields", [
    ("/api/v1/cases/", ["street", "community", "grid", "assignee", "parent"]),
    ("/api/v1/points/entries/", ["posted_by", "approved_by"]),
    ("/api/v1/points/proposals/", ["resident_name"]),
    ("/api/v1/registry/audit/findings/", ["resolved_by", "grid"]),
])
def test_fields_that_can_be_null_are_declared_nullable(doc, path, fields):
    properties = ok_schema(doc, path)["properties"]
    for name in fields:
        assert properties[name].get("nullable") is True, (path, name, properties[name])


def test_an_empty_webhook_url_is_valid_in_its_own_document(doc):
    webhook = ok_schema(doc, "/api/v1/cases/integrations/")["properties"]["webhook_url"]
    assert {"type": "string", "maxLength": 0} in webhook["oneOf"]
    assert {"type": "string", "format": "uri"} in webhook["oneOf"]


def test_duplicates_are_documented_as_they_are_answered(doc):
    schema = resolve(doc, doc["paths"]["/api/v1/cases/{id}/duplicates/"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])
    assert schema["type"] == "object" and "results" in schema["properties"]
    item = resolve(doc, schema["properties"]["results"]["items"])
    assert "similarity" in item["properties"]


def test_errors_are_documented_once_in_the_error_shape(doc):
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {"status", "code", "message", "fields"}
    ref = {"$ref": "#/components/schemas/Error"}
    listing = doc["paths"]["/api/v1/cases/"]["get"]["responses"]
    assert {"400", "401", "403", "404", "429"} <= set(listing)  # query values, auth, a page past the end
    assert listing["401"]["content"]["application/json"]["schema"] == ref
    create = doc["paths"]["/api/v1/cases/"]["post"]["responses"]
    assert {"400", "401", "409", "413", "415", "429"} <= set(create)
    detail = doc["paths"]["/api/v1/cases/{id}/"]["get"]["responses"]
    assert "404" in detail and "409" not in detail and "413" not in detail
    # the district's public profile takes no input and needs no sign-in
    district = doc["paths"]["/api/v1/district/"]["get"]["responses"]
    assert "400" not in district and "403" not in district and "404" not in district


def test_anonymous_operations_say_so(doc):
    def security(path, method="get"):
        return doc["paths"][path][method].get("security", [{}])

    for path, method in [("/api/v1/notices/", "get"), ("/api/v1/notices/{id}/", "get"),
                         ("/api/v1/cases/categories/", "get"), ("/api/v1/cases/", "post"),
                         ("/api/v1/district/", "get"), ("/api/v1/auth/otp/request/", "post"),
                         ("/api/v1/auth/otp/verify/", "post"), ("/api/v1/auth/token/", "post")]:
        assert {} in security(path, method), (path, method)
    for path, method in [("/api/v1/me/", "get"), ("/api/v1/cases/", "get"), ("/api/v1/settings/branding/", "get"),
                         ("/api/v1/notices/", "post")]:
        assert {} not in security(path, method), (path, method)
        assert security(path, method), (path, method)


@pytest.mark.parametrize("query,param", [
    ("page_size=null", "page_size"), ("page_size=0", "page_size"), ("page_size=201", "page_size"),
    ("page_size=1.5", "page_size"), ("page=abc", "page"), ("page=-1", "page"),
])
def test_bad_paging_values_are_400(kangbashi, query, param):
    response = client_for(kangbashi, admin_of(kangbashi)).get(f"/api/v1/registry/streets/?{query}")
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [param]


def test_good_paging_values_still_work(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    assert client.get("/api/v1/registry/streets/?page_size=200&page=1").status_code == 200
    assert client.get("/api/v1/registry/streets/?page_size=&page=last").status_code == 200


@pytest.mark.parametrize("query,param", [("is_sector=0.12", "is_sector"), ("is_sector=null", "is_sector"),
                                         ("ordering=nonsense", "ordering")])
def test_bad_filter_values_are_400(kangbashi, query, param):
    response = client_for(kangbashi, admin_of(kangbashi)).get(f"/api/v1/registry/departments/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["fields"]) == [param]


def test_good_filter_values_still_work(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    for query in ("is_sector=true", "is_sector=0", "is_sector=", "ordering=-id"):
        assert client.get(f"/api/v1/registry/departments/?{query}").status_code == 200, query


@pytest.mark.parametrize("fmt", ["json", "multipart"])
def test_branding_refuses_an_empty_title(kangbashi, fmt):
    client = client_for(kangbashi, admin_of(kangbashi))
    response = client.patch("/api/v1/settings/branding/", {"title_zh": ""}, format=fmt)
    assert response.status_code == 400, response.content
    assert "title_zh" in response.json()["error"]["fields"]


def test_residents_see_the_contract_too(kangbashi):
    """A resident's list of cases answers in the documented shape for bad input as well."""
    resident = make_user(kangbashi, "contract-resident", "resident")
    response = client_for(kangbashi, resident).get("/api/v1/cases/?page_size=null")
    assert response.status_code == 400 and response.json()["error"]["fields"] == {
        "page_size": ["A whole number from 1 to 200."]}


@pytest.mark.parametrize("url,param", [
    ("/api/v1/points/rules/?all=maybe", "all"),
    ("/api/v1/points/rules/?direction=sideways", "direction"),
    ("/api/v1/points/ranking/?limit=5000", "limit"),
    ("/api/v1/points/ranking/?limit=ten", "limit"),
    ("/api/v1/codes/bindings/?mine=perhaps", "mine"),
    ("/api/v1/codes/bindings/?status=whatever", "status"),
])
def test_hand_read_query_values_are_checked_too(kangbashi, url, param):
    response = client_for(kangbashi, admin_of(kangbashi)).get(url)
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == [param]


def test_hand_read_query_values_still_work(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    for url in ("/api/v1/points/rules/?all=true", "/api/v1/points/ranking/?limit=200",
                "/api/v1/codes/bindings/?mine=1", "/api/v1/codes/bindings/?status=all"):
        assert client.get(url).status_code == 200, url
