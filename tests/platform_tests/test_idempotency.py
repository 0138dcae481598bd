"""kernel.idempotency, the one piece every write that takes an Idempotency-Key uses: keys kept whole
(hashed, never cut), a documented limit, a stable request fingerprint, and the header documented
once in the OpenAPI document with its limit."""
import datetime as dt
from decimal import Decimal

import pytest

from kernel import idempotency
from kernel.errors import Conflict, DomainError


def test_keys_are_kept_whole_up_to_the_limit():
    stem = "k" * 64
    a, b = idempotency.stored_key("cases", stem + "a"), idempotency.stored_key("cases", stem + "b")
    assert a != b and len(a) == len(b) == 64  # fits the existing 64-character columns
    assert idempotency.stored_key("cases", "x") != idempotency.stored_key("cases.integration:1", "x")
    assert idempotency.clean_key("  " + "k" * 255 + " ") == "k" * 255
    assert idempotency.clean_key("") is None and idempotency.clean_key("   ") is None
    assert idempotency.clean_key(None) is None


@pytest.mark.parametrize("bad", ["k" * 256, "键", "tab\there", "nul\x00"])
def test_a_key_over_the_limit_or_with_other_characters_is_400_naming_the_limit(bad):
    with pytest.raises(DomainError) as refused:
        idempotency.clean_key(bad)
    error = refused.value
    assert error.status == 400 and error.code == "invalid_idempotency_key"
    assert "255" in error.message and "idempotency_key" in error.fields


def test_the_fingerprint_is_stable_over_normal_forms_and_tells_bodies_apart():
    one = idempotency.fingerprint(title=" 楼道堆物 ", latitude=Decimal("39.600000"), grid="", day=dt.date(2026, 1, 2))
    two = idempotency.fingerprint(day=dt.date(2026, 1, 2), grid=None, latitude=39.6, title="楼道堆物")
    assert one == two and len(one) == 64
    assert one != idempotency.fingerprint(title="另一件事", latitude=39.6, grid=None, day=dt.date(2026, 1, 2))
    idempotency.check_same(one, two)
    idempotency.check_same(None, two)  # a row from before fingerprints
    with pytest.raises(Conflict) as reused:
        idempotency.check_same(one, idempotency.fingerprint(title="x"))
    assert reused.value.status == 409 and reused.value.code == "idempotency_key_reused"


@pytest.mark.django_db
def test_the_header_is_documented_with_its_limit(admin_client):
    schema = admin_client.get("/api/schema/?format=json").json()
    documented = {(path, method): p for path, ops in schema["paths"].items() for method, op in ops.items()
                  if isinstance(op, dict) for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"}
    assert {("/api/v1/cases/", "post"), ("/api/v1/points/entries/", "post"),
            ("/api/v1/points/proposals/", "post")} <= set(documented)
    for parameter in documented.values():
        assert parameter["in"] == "header" and parameter["schema"]["maxLength"] == 255
        assert "409" in parameter["description"] and "255" in parameter["description"]
