"""What a list costs (bench/load.py): no COUNT for a first page shorter than a page."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def _get(client, url):
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def test_a_first_page_shorter_than_a_page_is_not_counted(kangbashi):
    from modules.cases.models import Category

    with tenant_context(kangbashi):
        total = Category.objects.count()
    assert total >= 2
    client = client_for(kangbashi, make_user(kangbashi, "cost_resident", "resident"), token=True)
    response, sql = _get(client, "/api/v1/cases/categories/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(body["results"]) and body["next"] is None
    assert not any("COUNT(" in s for s in sql)

    response, sql = _get(client, "/api/v1/cases/categories/?page_size=1")  # a full page: counted
    body = response.json()
    assert body["count"] == total and len(body["results"]) == 1 and body["next"]
    assert any("COUNT(" in s for s in sql)
    response, sql = _get(client, f"/api/v1/cases/categories/?page_size=1&page={total}")
    assert response.json()["count"] == total and response.json()["next"] is None
    assert client.get("/api/v1/cases/categories/?page=99").status_code == 404
