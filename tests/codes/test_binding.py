"""Binding a signed-in person to the household whose code they scanned: matched with the ledger at
once, or pending for the grid worker (approved by the right one, refused for another grid's worker,
rejected with a reason); the household head's invitations and removals."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from modules.codes import services
from modules.codes.models import BindingRequest, HouseholdInvite
from modules.registry.models import Membership, Resident
from tests.codes.conftest import id_number
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def newcomer(place, name="new-phone", phone="13500001111"):
    return make_user(place.district, name, "resident", phone=phone)


def test_matched_with_the_ledger_binds_at_once(place, codes):
    user = newcomer(place)
    client = client_for(place.district, user)
    response = client.post(f"/codes/bind/{codes['h1'].token}/", {"name": "李四", "id_number": id_number(2)})
    assert response.status_code == 200
    assert 'data-status="approved"' in response.content.decode()
    with place:
        place.member.refresh_from_db()
        assert place.member.user == user
        binding = BindingRequest.objects.get(user=user)
        assert binding.status == "approved" and binding.matched and binding.resident == place.member
        assert binding.relation == "member" and binding.id_number_masked.endswith(id_number(2)[-4:])
        assert "*" in binding.id_number_masked and id_number(2) not in binding.id_number_encrypted
        assert AuditEntry.objects.filter(action="codes.binding.matched", target_id=str(binding.pk)).exists()
    html = client.get(f"/c/{codes['h1'].token}").content.decode()
    assert 'data-viewer="resident"' in html and 'data-testid="members"' in html


def test_matched_through_the_api(place, codes):
    user = newcomer(place)
    client = client_for(place.district, user, token=True)
    response = client.post("/api/v1/codes/bindings/", {"token": codes["h1"].token, "name": " 李 四 ",
                                                        "id_number": id_number(2).lower()}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "approved" and response.json()["matched"] is True
    assert response.json()["id_number"] != id_number(2)
    again = client.post("/api/v1/codes/bindings/", {"token": codes["h1"].token, "name": "李四",
                                                     "id_number": id_number(2)}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_bound"


@pytest.mark.parametrize("name,seq,why", [
    ("赵七", 9, "not in the ledger"),
    ("李五", 2, "the name does not match the ID number"),
    ("王五", 3, "in the ledger, but at another household"),
])
def test_otherwise_the_request_waits_for_the_grid_worker(place, codes, name, seq, why):
    user = newcomer(place)
    with place:
        binding = services.request_binding(user=user, code=codes["h1"], name=name, id_number=id_number(seq))
        assert binding.status == "pending" and not binding.matched, why
        assert Resident.objects.filter(user=user).count() == 0
        with pytest.raises(Conflict):
            services.request_binding(user=user, code=codes["h1"], name=name, id_number=id_number(seq))


def test_the_grid_worker_of_that_grid_approves_and_another_grids_worker_cannot(place, codes):
    user = newcomer(place)
    with place:
        binding = services.request_binding(user=user, code=codes["h1"], name="赵七", id_number=id_number(9))
    other = client_for(place.district, place.worker2)
    assert other.get("/api/v1/codes/bindings/").json()["count"] == 0
    refused = other.post(f"/api/v1/codes/bindings/{binding.pk}/approve/", {}, format="json")
    assert refused.status_code == 404
    with place, pytest.raises(NotAllowed):
        services.approve_binding(actor=place.worker2, request=binding)
    own = client_for(place.district, place.worker)
    listed = own.get("/api/v1/codes/bindings/").json()
    assert [row["id"] for row in listed["results"]] == [binding.pk]
    assert listed["results"][0]["id_number"].startswith("150602") and "*" in listed["results"][0]["id_number"]
    approved = own.post(f"/api/v1/codes/bindings/{binding.pk}/approve/", {"relation": "tenant"}, format="json")
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    with place:
        person = Resident.objects.get(user=user)
        assert person.name == "赵七" and person.id_number == id_number(9)
        assert Membership.objects.get(resident=person, household=place.h1, ended_at__isnull=True).relation == "tenant"
        with pytest.raises(Conflict):
            services.approve_binding(actor=place.worker, request=binding)
    html = client_for(place.district, user).get(f"/c/{codes['h1'].token}").content.decode()
    assert 'data-viewer="resident"' in html


def test_community_staff_and_the_district_admin_decide_too(place, codes):
    first, second = newcomer(place, "n1", "13500001111"), newcomer(place, "n2", "13500002222")
    with place:
        a = services.request_binding(user=first, code=codes["h3"], name="孙八", id_number=id_number(11))
        b = services.request_binding(user=second, code=codes["h3"], name="周九", id_number=id_number(12))
        services.approve_binding(actor=place.staff, request=a)
        services.approve_binding(actor=place.admin, request=b)
        assert Membership.objects.filter(household=place.h3, ended_at__isnull=True).count() == 2
        with pytest.raises(NotAllowed):  # grid 1's worker: h3 is in grid 2
            services.reject_binding(actor=place.worker, request=BindingRequest.objects.get(pk=a.pk), reason="x")


def test_a_rejected_request_says_why(place, codes):
    user = newcomer(place)
    with place:
        binding = services.request_binding(user=user, code=codes["h1"], name="赵七", id_number=id_number(9))
    client = client_for(place.district, place.worker)
    missing = client.post(f"/api/v1/codes/bindings/{binding.pk}/reject/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    response = client.post(f"/codes/bindings/{binding.pk}/decide/", {"decision": "reject", "reason": "非本户居民"})
    assert response.status_code == 302
    with place:
        binding.refresh_from_db()
        assert binding.status == "rejected" and binding.reason == "非本户居民" and binding.decided_by == place.worker
        assert not Resident.objects.filter(user=user).exists()
    html = client_for(place.district, user).get(f"/c/{codes['h1'].token}").content.decode()
    assert "非本户居民" in html
    mine = client_for(place.district, user).get("/api/v1/codes/bindings/").json()
    assert mine["results"][0]["status"] == "rejected"


def test_an_account_is_one_person(place, codes):
    """王五's account cannot be used to bind as somebody else."""
    client = client_for(place.district, place.other_user, token=True)
    response = client.post("/api/v1/codes/bindings/", {"token": codes["h1"].token, "name": "李四",
                                                        "id_number": id_number(2)}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "account_taken"


def test_bad_input_names_the_field(place, codes):
    client = client_for(place.district, newcomer(place), token=True)
    bad = client.post("/api/v1/codes/bindings/", {"token": codes["h1"].token, "name": "李四",
                                                   "id_number": id_number(2)[:-1] + "0"}, format="json")
    assert bad.status_code == 400 and "id_number" in bad.json()["error"]["fields"]
    outdoor = client.post("/api/v1/codes/bindings/", {"token": codes["h1_outdoor"].token, "name": "李四",
                                                       "id_number": id_number(2)}, format="json")
    assert outdoor.status_code == 400 and "token" in outdoor.json()["error"]["fields"]
    nobody = client_for(place.district).post("/api/v1/codes/bindings/", {}, format="json")
    assert nobody.status_code == 401
    page = client_for(place.district, newcomer(place, "n3", "13500003333")).post(
        f"/codes/bind/{codes['h1'].token}/", {"name": "", "id_number": "123"})
    assert page.status_code == 200 and 'data-testid="bind-error"' in page.content.decode()


def test_the_head_invites_a_family_member(place, codes):
    head = client_for(place.district, place.head_user, token=True)
    refused = client_for(place.district, place.other_user, token=True).post(
        "/api/v1/codes/invites/", {"household": place.h1.pk}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_head"
    made = head.post("/api/v1/codes/invites/", {"household": place.h1.pk, "relation": "member"}, format="json")
    assert made.status_code == 201
    token = made.json()["token"]
    assert made.json()["url"].endswith(f"/codes/join/{token}/")
    joiner = newcomer(place, "kid", "13500004444")
    client = client_for(place.district, joiner)
    page = client.get(f"/codes/join/{token}/")
    assert page.status_code == 200 and place.h1.address in page.content.decode()
    response = client.post(f"/codes/join/{token}/", {"name": "张小三", "id_number": id_number(21, "20050101")})
    assert response.status_code == 302 and response["Location"] == f"/c/{codes['h1'].token}"
    with place:
        kid = Resident.objects.get(user=joiner)
        assert Membership.objects.filter(resident=kid, household=place.h1, ended_at__isnull=True).exists()
        invite = HouseholdInvite.objects.get(token=token)
        assert invite.used_by == joiner and invite.resident == kid
    reused = client_for(place.district, newcomer(place, "late", "13500005555"), token=True).post(
        f"/api/v1/codes/invites/{token}/accept/", {"name": "某某", "id_number": id_number(22)}, format="json")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "invite_used"


def test_an_expired_invitation_does_not_work(place, codes):
    with place:
        invite = services.create_invite(actor=place.head_user, household=place.h1)
        HouseholdInvite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        with pytest.raises(DomainError) as err:
            services.accept_invite(user=place.other_user, invite=invite, name="王五", id_number=id_number(3))
        assert err.value.code == "invite_expired"


def test_the_head_removes_a_member_but_not_themself(place, codes):
    with place:
        member = Membership.objects.get(resident=place.member, household=place.h1, ended_at__isnull=True)
        head = Membership.objects.get(resident=place.head, household=place.h1, ended_at__isnull=True)
    client = client_for(place.district, place.other_user)
    assert client.post(f"/codes/household/{codes['h1'].token}/members/{member.pk}/remove/").status_code == 302
    with place:
        member.refresh_from_db()
        assert member.ended_at is None  # not the head: nothing happened
    page = client_for(place.district, place.head_user)
    response = page.post(f"/codes/household/{codes['h1'].token}/members/{member.pk}/remove/")
    assert response.status_code == 302
    with place:
        member.refresh_from_db()
        assert member.ended_at is not None
        with pytest.raises(DomainError):
            services.remove_member(actor=place.head_user, membership=head)
        assert AuditEntry.objects.filter(action="codes.member.remove").exists()
