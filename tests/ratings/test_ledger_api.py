"""The ledger API: rate by a code's token or by subject, my ratings, the one error shape, the
Idempotency-Key, the schema, and the module switched off (404)."""
from __future__ import annotations

from django.db import connection
from django_tenants.utils import tenant_context

from modules.codes import services as codes
from modules.ratings.ledger.models import Rating
from tests.conftest import client_for

BASE = "/api/v1/ratings/"


def code_of(rw, **target) -> str:
    with tenant_context(rw.district):
        token = codes.issue_codes(actor=rw.admin, **target)[0].token
    connection.set_schema_to_public()
    return token


def post(client, body, **headers):
    return client.post(BASE, body, format="json", **headers)


def test_rate_by_code_and_read_my_ratings(rw):
    token = code_of(rw, official=rw.o1)
    me = client_for(rw.district, rw.res1)
    made = post(me, {"code": token, "level": 4, "scores": {"duty": 2}, "comment": "好"})
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["subject_kind"] == "official" and body["official"] == rw.o1.pk and body["subject_name"] == "钱进"
    assert body["department"] == "civil-affairs" and body["level"] == 4 and body["state"] == "counted"
    assert body["scores"] == {"duty": 2, "style": 4, "efficiency": 4, "fairness": 4, "integrity": 4}
    assert body["channel"] == "official_code" and body["follow_up"] is None and body["replaces"] is None
    again = post(me, {"subject_kind": "official", "subject_id": rw.o1.pk, "level": 5}).json()
    assert again["replaces"] == body["id"]
    mine = me.get(f"{BASE}mine/").json()
    assert mine["count"] == 2 and [r["id"] for r in mine["results"]] == [again["id"], body["id"]]
    assert mine["results"][1]["state"] == "superseded" and mine["results"][1]["replaced_by"] == again["id"]
    assert me.get(f"{BASE}mine/{body['id']}/").json()["id"] == body["id"]
    other = client_for(rw.district, rw.res2)
    assert other.get(f"{BASE}mine/{body['id']}/").status_code == 404  # only one's own
    assert other.get(f"{BASE}mine/").json()["count"] == 0


def test_rate_a_merchant_by_its_stall_code(rw):
    token = code_of(rw, merchant=rw.stall)
    body = post(client_for(rw.district, rw.res2), {"code": token, "level": 1, "comment": "缺斤少两"}).json()
    assert body["subject_kind"] == "merchant" and body["merchant"] == rw.stall.pk and body["channel"] == "merchant_code"


def test_errors_come_in_the_one_shape(rw):
    token = code_of(rw, official=rw.o1)
    anonymous = post(client_for(rw.district), {"code": token, "level": 5})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    me = client_for(rw.district, rw.res1)
    for body, field in (({"code": token, "level": 9}, "level"), ({"code": token}, "level"),
                        ({"code": token, "level": 3, "scores": {"taste": 2}}, "scores"),
                        ({"code": "nope" * 6, "level": 3}, "code"), ({"level": 3}, "code"),
                        ({"subject_kind": "official", "subject_id": 999999, "level": 3}, "subject_id"),
                        ({"code": token, "level": 3, "comment": "字" * 501}, "comment")):
        answer = post(me, body)
        assert answer.status_code == 400, (body, answer.json())
        error = answer.json()["error"]
        assert field in error["fields"] and error["message"] and error["status"] == 400, (body, error)
    own = post(client_for(rw.district, rw.o1_user), {"code": token, "level": 5})
    assert own.status_code == 403 and own.json()["error"]["code"] == "own_rating"
    stranger = post(client_for(rw.district, rw.stranger), {"code": token, "level": 5})
    assert stranger.status_code == 403 and stranger.json()["error"]["code"] == "not_a_rater"
    assert client_for(rw.district).get(f"{BASE}mine/").status_code == 401
    with tenant_context(rw.district):
        assert not Rating.objects.exists()


def test_a_retried_post_with_the_same_idempotency_key_never_doubles(rw):
    token = code_of(rw, merchant=rw.shop)
    me = client_for(rw.district, rw.res1)
    first = post(me, {"code": token, "level": 2}, HTTP_IDEMPOTENCY_KEY="k-123")
    again = post(me, {"code": token, "level": 2}, HTTP_IDEMPOTENCY_KEY="k-123")
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    changed = post(me, {"code": token, "level": 5}, HTTP_IDEMPOTENCY_KEY="k-123")
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "idempotency_key_reused"
    too_long = post(me, {"code": token, "level": 5}, HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_idempotency_key"
    with tenant_context(rw.district):
        assert Rating.objects.count() == 1


def test_the_schema_documents_the_ledger_api(rw):
    paths = client_for(rw.district, rw.admin).get("/api/schema/?format=json").json()["paths"]
    assert {"/api/v1/ratings/", "/api/v1/ratings/mine/", "/api/v1/ratings/mine/{id}/"} <= set(paths)
    post_op = paths["/api/v1/ratings/"]["post"]
    assert {"201", "200"} <= set(post_op["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post_op["parameters"])


def test_module_off_answers_404(laixi):
    assert client_for(laixi).post(BASE, {"level": 5}, format="json").status_code == 404
    assert client_for(laixi).get(f"{BASE}mine/").status_code == 404
