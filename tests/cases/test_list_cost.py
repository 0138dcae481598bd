"""What a case list costs (bench/load.py): it reads only the columns it shows, a statement count that
does not grow with its rows, and the API's filter backend builds a view's FilterSet class once."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from tests.conftest import client_for

pytestmark = pytest.mark.django_db
BASE = "/api/v1/cases/"


def _report(client, world, title):
    made = client.post(BASE, {"category": "noise", "title": title, "household": world.places["h1"].pk},
                       format="json")
    assert made.status_code == 201, made.content
    return made.json()


def _list(client, query=""):
    connection.set_schema_to_public()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(BASE + query)
    assert response.status_code == 200, response.content
    return response.json()["results"], [q["sql"] for q in queries.captured_queries]


def test_a_case_list_selects_what_it_shows_and_no_more(world):
    d = world.district
    reporter, staff = client_for(d, world.reporter, token=True), client_for(d, world.staff_c1, token=True)
    first = _report(reporter, world, "噪音")
    one, one_sql = _list(reporter)
    for i in range(4):
        _report(reporter, world, f"又是噪音 {i}")
    second = _report(reporter, world, "还是噪音")
    linked = staff.post(f"{BASE}{second['id']}/link-duplicate/", {"parent": first["ref"]}, format="json")
    assert linked.status_code == 200, linked.content

    rows, sql = _list(reporter)
    assert len(one) == 1 and len(rows) == 6
    assert len(sql) == len(one_sql)  # no statement per row
    by_id = {row["id"]: row for row in rows}
    assert by_id[second["id"]]["parent"] == first["ref"] and by_id[first["id"]]["parent"] is None
    assert by_id[first["id"]]["category"] == "noise" and by_id[first["id"]]["grid"] == "G0101"
    assert by_id[first["id"]]["rlist_version"] == 1 and by_id[first["id"]]["assignee"] == "gw1"
    page = next(s for s in sql if s.startswith("SELECT") and '"cases_case"."title"' in s)
    assert '"accounts_user"."password"' not in page  # the reporter's and the assignee's user rows
    assert page.count('"description"') == 1  # the parent and the follow-up are not whole cases
    assert '"cases_category"."assign_mode"' not in page

    pool_rows, pool_sql = _list(client_for(d, world.gw1b, token=True), "pool/")
    assert pool_rows == []
    assert not any('"accounts_user"."password"' in s for s in pool_sql if '"cases_case"."title"' in s)


def test_the_filter_backend_builds_a_views_filterset_once_and_still_filters(world):
    from rest_framework.settings import api_settings

    from modules.cases.api import CaseList
    from modules.cases.models import Case

    backend = api_settings.DEFAULT_FILTER_BACKENDS[0]()
    with tenant_context(world.district):
        first = backend.get_filterset_class(CaseList(), Case.objects.all())
        assert backend.get_filterset_class(CaseList(), Case.objects.all()) is first
        assert "category__code" in first.base_filters
    d = world.district
    reporter = client_for(d, world.reporter, token=True)
    noise = _report(reporter, world, "噪音")
    clutter = reporter.post(BASE, {"category": "corridor_clutter", "title": "堆物",
                                   "household": world.places["h1"].pk}, format="json").json()
    assert {c["id"] for c in _list(reporter)[0]} == {noise["id"], clutter["id"]}
    assert [c["id"] for c in _list(reporter, "?category__code=noise")[0]] == [noise["id"]]
    assert _list(reporter, "?category__code=noise&status=closed")[0] == []
    assert [c["id"] for c in _list(reporter, "?page=1&ordering=id")[0]] == [noise["id"], clutter["id"]]
    bad = reporter.get(BASE + "?status=flying")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_a_case_list_reads_its_page_of_ids_first_then_joins_them_in_written_order(world):
    """PostgreSQL took 30-50 ms to plan a page as one query (eight LEFT JOINs and the visibility rule);
    the ids come first, then only those rows are joined, planned as written (kernel.db.joins_as_written)."""
    d = world.district
    reporter = client_for(d, world.reporter, token=True)
    made = [_report(reporter, world, f"噪音 {i}")["id"] for i in range(3)]
    rows, sql = _list(reporter, "?page_size=2&ordering=-id")
    assert [row["id"] for row in rows] == sorted(made, reverse=True)[:2]  # the page's order is kept
    ids_query = next(s for s in sql if s.startswith('SELECT "cases_case"."id" AS "pk" FROM'))
    assert "JOIN" not in ids_query.split(" WHERE ")[0] and "LIMIT 2" in ids_query
    at = next(i for i, s in enumerate(sql) if "join_collapse_limit = 1" in s)
    joined = sql[at + 1]
    assert joined.count("LEFT OUTER JOIN") >= 7 and "cases_caseparticipant" not in joined  # ids, not the rule
    rest, _ = _list(reporter, "?page_size=2&ordering=-id&page=2")
    assert [row["id"] for row in rest] == sorted(made, reverse=True)[2:]
    detail = reporter.get(f"{BASE}{made[0]}/")
    assert detail.status_code == 200 and detail.json()["id"] == made[0]
    with tenant_context(d):  # the setting did not outlive the block (the test runs in a transaction)
        with connection.cursor() as cursor:
            cursor.execute("SHOW join_collapse_limit")
            assert cursor.fetchone()[0] == "8"
    connection.set_schema_to_public()
