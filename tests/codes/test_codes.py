"""Issuing codes, the database's guarantees, tokens, revoke and re-issue, the seed."""
from __future__ import annotations

import base64
import math
from collections import Counter

import pytest
from django.db import IntegrityError, transaction

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry, OutboxEvent
from modules.codes import services
from modules.codes.models import TOKEN_BYTES, Code
from tests.codes.conftest import issue_all
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_a_household_gets_one_household_and_one_outdoor_code_idempotently(place):
    with place:
        first = services.issue_codes(actor=place.admin, household=place.h1)
        again = services.issue_codes(actor=place.admin, household=place.h1)
        assert [c.kind for c in first] == ["household", "outdoor"]
        assert [c.pk for c in again] == [c.pk for c in first]
        assert Code.objects.filter(household=place.h1).count() == 2
        assert AuditEntry.objects.filter(action="codes.issue", target_id=str(place.h1.pk)).count() == 1


def test_merchants_stalls_and_officials_get_their_own_kind(place, codes):
    assert codes["shop"].kind == "merchant" and codes["shop"].merchant_id == place.shop.pk
    assert codes["stall"].kind == "stall" and codes["stall"].merchant_id == place.stall.pk
    assert codes["official"].kind == "official" and codes["official"].official_id == place.official.pk


def test_issuing_needs_exactly_one_target_and_an_issuer_of_that_area(place):
    with place:
        with pytest.raises(DomainError) as err:
            services.issue_codes(actor=place.admin, household=place.h1, merchant=place.shop)
        assert "target" in err.value.fields
        with pytest.raises(NotAllowed):  # grid 2's worker, for a household of grid 1
            services.issue_codes(actor=place.worker2, household=place.h1)
        assert services.issue_codes(actor=place.worker, household=place.h1)  # its own grid worker
        assert services.issue_codes(actor=place.staff, household=place.h3)  # community staff, either grid


def test_tokens_are_unguessable_and_not_database_ids(codes):
    tokens = [c.token for c in codes.values()]
    assert len(set(tokens)) == len(tokens)
    for code in codes.values():
        assert len(code.token) >= 22 and code.token != str(code.pk) and not code.token.isdigit()
        raw = base64.urlsafe_b64decode(code.token + "=" * (-len(code.token) % 4))
        assert len(raw) == TOKEN_BYTES >= 16  # 128 random bits
    sample = [Code(kind="household").token for _ in range(2000)]  # the model default
    assert len(set(sample)) == len(sample)
    chars = Counter("".join(sample))
    total = sum(chars.values())
    entropy = -sum(n / total * math.log2(n / total) for n in chars.values())
    assert len(chars) == 64 and entropy > 5.9  # URL-safe base64, evenly spread: ~6 bits a character


def test_the_database_refuses_wrong_targets_short_tokens_and_two_active_codes(place, codes):
    with place:
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.create(kind="merchant", household=place.h1)
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.create(kind="household", household=place.h1, merchant=place.shop)
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.create(kind="official", household=place.h2, token="12345")
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.create(kind="household", household=place.h1)  # a second active household code
        with pytest.raises(IntegrityError), transaction.atomic():
            Code.objects.filter(pk=codes["h1"].pk).update(status="revoked")  # revoked needs revoked_at


def test_revoke_and_reissue_a_lost_door_plate(place, codes):
    old = codes["h1_outdoor"]
    with place:
        with pytest.raises(DomainError) as err:
            services.revoke_and_reissue(actor=place.worker, code=old, reason=" ")
        assert "reason" in err.value.fields
        with pytest.raises(NotAllowed):
            services.revoke_and_reissue(actor=place.worker2, code=old, reason="门牌丢失")
        new = services.revoke_and_reissue(actor=place.worker, code=old, reason="门牌丢失")
        old.refresh_from_db()
        assert new.kind == "outdoor" and new.household_id == place.h1.pk and new.token != old.token
        assert old.status == "revoked" and old.revoked_at and old.revoked_by == place.worker
        assert old.replaced_by == new and old.reason == "门牌丢失"
        assert Code.objects.get(household=place.h1, kind="outdoor", status="active") == new
        with pytest.raises(Conflict):
            services.revoke_and_reissue(actor=place.worker, code=old, reason="again")
        assert AuditEntry.objects.filter(action="codes.reissue", target_id=str(new.pk)).exists()
        assert OutboxEvent.objects.filter(topic="codes.reissued", payload__new=new.pk).exists()
    client = client_for(place.district)
    gone = client.get(f"/c/{old.token}")
    assert gone.status_code == 410
    page = gone.content.decode()
    assert "This code is no longer valid" in page or "此码已作废" in page
    assert "replaced" in page or "新码" in page
    assert place.h1.address not in page  # a revoked plate tells nothing about the home
    assert client.get(f"/c/{new.token}").status_code == 200


def test_reissue_through_the_staff_page(place, codes):
    client = client_for(place.district, place.worker)
    old = codes["h1"]
    response = client.post(f"/codes/code/{old.token}/", {"reason": "门牌损坏"})
    assert response.status_code == 302
    with place:
        new = Code.objects.get(household=place.h1, kind="household", status="active")
    assert response["Location"] == f"/codes/code/{new.token}/"
    assert new.pk != old.pk
    assert client_for(place.district, place.worker2).get(f"/codes/code/{new.token}/").status_code == 403


def test_the_seed_issues_every_missing_code_once(place):
    with place:
        services.seed(actor=None)
        n = Code.objects.count()
        assert Code.objects.filter(household=place.h3).count() == 2
        assert Code.objects.filter(merchant=place.stall, kind="stall").count() == 1
        assert Code.objects.filter(official=place.official).count() == 1
        services.seed(actor=None)
        assert Code.objects.count() == n


def test_issue_all_helper_matches_services(place):
    codes = issue_all(place)
    assert {c.kind for c in codes.values()} == {"household", "outdoor", "merchant", "stall", "official"}
