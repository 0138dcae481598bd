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


def test_cases_by_id_compiles_once_and_reads_the_district_the_connection_is_in(world, dongsheng):
    from rest_framework import serializers

    from modules.cases.api import CASES_BY_ID, CaseDetailSerializer, CaseSerializer, _for_list, cases_by_id
    from modules.cases.models import Case

    reporter = client_for(world.district, world.reporter, token=True)
    made = [_report(reporter, world, f"噪音 {i}")["id"] for i in range(3)]
    ids = [made[2], 10**9, made[0]]  # the order asked for; an unknown id is left out
    with tenant_context(world.district):
        found = cases_by_id(ids)
        assert [c.pk for c in found] == [made[2], made[0]]
        with connection.cursor() as cursor:
            cursor.execute("SHOW join_collapse_limit")
            assert cursor.fetchone()[0] == "8"  # the setting ended with the query
        plan = CASES_BY_ID._plan()
        orm = {c.pk: c for c in _for_list(Case.objects.filter(pk__in=ids))}

        class Plain(CaseSerializer):  # DRF's own to_representation, fields copied per instance
            def to_representation(self, instance):
                return serializers.Serializer.to_representation(self, instance)

        assert [CaseSerializer(c).data for c in found] == [Plain(orm[c.pk]).data for c in found]
        assert found[0].category.code == "noise" and found[0].grid.code == "G0101"

        from django.db import transaction

        with transaction.atomic():
            assert [c.pk for c in cases_by_id([made[1]])] == [made[1]]
            with connection.cursor() as cursor:
                cursor.execute("SHOW join_collapse_limit")
                assert cursor.fetchone()[0] == "8"  # put back inside a longer transaction too

        class Request:  # what get_actions reads of the live serializer's context
            user = world.staff_c1

        detail = CaseDetailSerializer(found[0], context={"request": Request()}).data
        assert "accept" in detail["actions"] or detail["actions"]  # the live context, not the prototype's
        assert detail["ref"] == orm[made[2]].ref
    with tenant_context(dongsheng):
        assert CASES_BY_ID._plan() is plan  # the same SQL text, another district's tables
        assert [c.pk for c in cases_by_id(made)] == list(
            Case.objects.filter(pk__in=made).order_by().values_list("pk", flat=True))


def test_cases_by_id_outside_a_transaction_is_one_message_and_leaves_the_setting_alone(world):
    """Outside an atomic block (a request: autocommit) SET LOCAL and the query go as one message; run
    in a thread of its own, whose connection is outside the test's transaction."""
    import threading

    from django.db import connections

    from modules.cases.api import cases_by_id

    out = {}

    def run():
        try:
            connection.set_tenant(world.district)
            assert not connection.in_atomic_block
            cases_by_id([1])  # the first call compiles
            with CaptureQueriesContext(connection) as queries:
                out["rows"] = cases_by_id([1, 2, 3])
            out["sql"] = [q["sql"] for q in queries.captured_queries]
            with connection.cursor() as cursor:
                cursor.execute("SHOW join_collapse_limit")
                out["after"] = cursor.fetchone()[0]
        except BaseException as exc:  # noqa: BLE001 - reported below
            out["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert "error" not in out, out.get("error")
    assert len(out["sql"]) == 1 and out["sql"][0].startswith("SET LOCAL join_collapse_limit = 1; SELECT")
    assert out["after"] == "8"
    assert isinstance(out["rows"], list)
