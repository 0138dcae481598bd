"""One idempotency rule (kernel.idempotency) on the points API: keys kept whole (not cut at 64 or
100 characters), ≤ 255 printable ASCII or 400, the same key and body → 200 with the first answer,
another body → 409, and two concurrent callers with one key → one 201 and one 200, one row."""
import secrets
import threading

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from modules.points.models import Batch, Entry, Proposal
from tests.conftest import client_for
from tests.points.conftest import id_number
from tests.points.test_api_write import api, balance, counts, error, post

ENTRIES = "/api/v1/points/entries/"
PROPOSALS = "/api/v1/points/proposals/"
BATCHES = "/api/v1/points/batches/"


@pytest.mark.django_db
def test_long_keys_are_kept_whole_and_over_the_limit_answer_400(pw):
    w = pw
    staff = api(w, w.staff)
    data = {"resident": w.r1.pk, "rule": "t_good", "points": 3, "reason": "帮邻居搬家", "occurred_on": "2020-01-01"}
    stem = "k" * 150
    one = post(staff, ENTRIES, data, HTTP_IDEMPOTENCY_KEY=stem + "-one")
    two = post(staff, ENTRIES, data, HTTP_IDEMPOTENCY_KEY=stem + "-two")
    assert (one.status_code, two.status_code) == (201, 201), (one.content, two.content)
    assert one.json()["id"] != two.json()["id"] and balance(w, w.r1) == 6
    again = post(staff, ENTRIES, data, HTTP_IDEMPOTENCY_KEY=stem + "-two")
    assert again.status_code == 200 and again.json()["id"] == two.json()["id"]
    before = counts(w)
    for key in ("x" * 256, "键-unicode"):
        for how in ({"HTTP_IDEMPOTENCY_KEY": key} if key.isascii() else {}, {}):
            body = data if how else {**data, "idempotency_key": key}
            refused = error(post(staff, ENTRIES, body, **how), 400)
            assert refused["code"] == "invalid_idempotency_key" and "idempotency_key" in refused["fields"]
            assert "255" in refused["message"] + str(refused["fields"])
    assert counts(w) == before and balance(w, w.r1) == 6


@pytest.mark.django_db
def test_a_proposal_with_a_used_key_and_another_body_is_409(pw):
    w = pw
    staff = api(w, w.staff)
    data = {"resident": w.r1.pk, "rule": "t_committee", "points": 30, "reason": "见义勇为", "evidence": "派出所证明",
            "occurred_on": "2020-01-01", "idempotency_key": "prop-1"}
    first = post(staff, PROPOSALS, data)
    again = post(staff, PROPOSALS, data)
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    other = error(post(staff, PROPOSALS, {**data, "reason": "另一件事"}), 409)
    assert other["code"] == "idempotency_key_reused"
    with tenant_context(w.district):
        assert Proposal.objects.filter(reason="另一件事").count() == 0


@pytest.mark.django_db
def test_a_batch_retried_with_its_key_is_made_once(pw):
    """A retried POST of a batch (19,747 residents +5) must not award them twice."""
    w = pw
    staff = api(w, w.staff)
    base = {"rule": "t_good", "points": 5, "reason": "消防演练", "occurred_on": "2020-01-01",
            "id_numbers": [id_number(1), id_number(3)]}
    key = "batch-" + "b" * 200
    first = post(staff, BATCHES, base, HTTP_IDEMPOTENCY_KEY=key)
    again = post(staff, BATCHES, base, HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (201, 200), again.content
    assert first.json()["id"] == again.json()["id"]
    other = error(post(staff, BATCHES, {**base, "points": 6}, HTTP_IDEMPOTENCY_KEY=key), 409)
    assert other["code"] == "idempotency_key_reused"
    refused = error(post(staff, BATCHES, base, HTTP_IDEMPOTENCY_KEY="k" * 256), 400)
    assert refused["code"] == "invalid_idempotency_key"
    assert counts(w)[2] == 1
    unkeyed = post(staff, BATCHES, base)  # without a key, another batch (as before)
    assert unkeyed.status_code == 201 and counts(w)[2] == 2
    with tenant_context(w.district):
        stored = Batch.objects.get(pk=first.json()["id"])
    assert id_number(1) not in (stored.idempotency_fingerprint or "") and len(stored.idempotency_key) == 64


def _concurrent_posts(bodies: list[dict], key: str, district, user) -> list[tuple[int, dict]]:
    barrier, outcomes = threading.Barrier(len(bodies)), []
    clients = [client_for(district, user) for _ in bodies]

    def attempt(n):
        try:
            barrier.wait()
            response = clients[n].post(ENTRIES, bodies[n], format="json", HTTP_IDEMPOTENCY_KEY=key)
            outcomes.append((response.status_code, response.json()))
        except Exception as exc:  # noqa: BLE001 - shown in the assertion
            outcomes.append((0, {"error": repr(exc)}))
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes, key=lambda o: o[0])


@pytest.mark.worker
def test_two_concurrent_callers_with_one_key_get_one_201_and_one_200(django_db_blocker):
    """Two staff apps retry at the same moment with one Idempotency-Key (committed data in the
    "worker" district, each thread its own connection): one entry; the second caller is told it is
    a repeat (200), not that it made one (201). With another body: 201 and 409."""
    from modules.points.ledger import rules as rulebook
    from modules.registry import services as registry
    from tenants.models import District
    from tests.conftest import admin_of

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        admin = admin_of(district)
        tag = secrets.token_hex(3)
        with tenant_context(district):
            resident = registry.register_resident(actor=None, name=f"幂等{tag}")
            rulebook.create_rule(actor=admin, code=f"t_idem_{tag}", name_zh="幂等", direction="add",
                                 category="test", min_points=1, max_points=5)
        connection.set_schema_to_public()
        body = {"resident": resident.pk, "rule": f"t_idem_{tag}", "points": 2, "reason": "同时重试"}
        same = _concurrent_posts([body, body], f"same-{tag}", district, admin)
        assert [status for status, _ in same] == [200, 201], same
        assert same[0][1]["id"] == same[1][1]["id"]
        other = _concurrent_posts([body, {**body, "points": 3}], f"other-{tag}", district, admin)
        assert [status for status, _ in other] == [201, 409], other
        assert other[1][1]["error"]["code"] == "idempotency_key_reused"
        with tenant_context(district):
            assert Entry.objects.filter(resident=resident).count() == 2
        connection.set_schema_to_public()


@pytest.mark.django_db
def test_a_benefit_use_keeps_a_long_key_whole(pw):
    """Benefit uses took at most 80 characters (400 beyond); now the documented 255, the header too."""
    from modules.points.benefits import selectors as sel
    from tests.points.test_benefits import award, build_benefits

    bw = build_benefits(pw)
    w = pw
    with tenant_context(w.district):
        award(w, w.r1, 20)
        token = sel.issue_token(w.r1)
    nurse = api(w, bw.nurse)
    key = "till-" + "u" * 200
    body = {"token": token, "benefit": bw.checkup.pk}
    first = post(nurse, "/api/v1/points/uses/", body, HTTP_IDEMPOTENCY_KEY=key + "1")
    again = post(nurse, "/api/v1/points/uses/", {**body, "idempotency_key": key + "1"})
    second = post(nurse, "/api/v1/points/uses/", body, HTTP_IDEMPOTENCY_KEY=key + "2")
    assert (first.status_code, again.status_code, second.status_code) == (201, 200, 201), second.content
    assert first.json()["id"] == again.json()["id"] != second.json()["id"] and again.json()["repeated"]
    refused = error(post(nurse, "/api/v1/points/uses/", body, HTTP_IDEMPOTENCY_KEY="k" * 256), 400)
    assert refused["code"] == "invalid_idempotency_key"


@pytest.mark.django_db
def test_the_staff_form_keeps_its_key_whole(pw):
    """The staff page cut form keys to 64 characters: two forms alike in their first 64 were one posting."""
    from tests.points.test_staff_pages import PROPOSE, propose_form, web

    w = pw
    gw1 = web(w, w.gw1)
    stem = "form-" + "f" * 70
    gw1.post(PROPOSE, propose_form(w, w.r1, "t_good", "5", key=stem + "1", reason="帮邻居修水管"))
    gw1.post(PROPOSE, propose_form(w, w.r1, "t_good", "5", key=stem + "2", reason="帮邻居修水管"))
    gw1.post(PROPOSE, propose_form(w, w.r1, "t_good", "5", key=stem + "2", reason="帮邻居修水管"))  # sent twice
    assert balance(w, w.r1) == 10 and counts(w)[0] == 2
    refused = gw1.post(PROPOSE, propose_form(w, w.r1, "t_good", "5", key="k" * 256, reason="帮邻居修水管"))
    assert refused.status_code == 400 and counts(w)[0] == 2 and "k" * 256 not in refused.content.decode()
