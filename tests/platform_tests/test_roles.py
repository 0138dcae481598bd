"""Roles and scopes: the reusable permission layer."""
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import DomainError
from kernel.models import AuditEntry, RoleAssignment
from kernel.permissions import has_role_for, in_scope, register_containment, scope_covers
from kernel.roles import GRID_WORKERS, Role
from kernel.services import assign_role, revoke_role
from modules.notices.models import Notice
from tests.conftest import admin_of, client_for, make_user
from tests.registry.test_places import build_places

pytestmark = pytest.mark.django_db


def test_admin_endpoints_need_the_admin_role(kangbashi):
    for role, kind, code in [("community_staff", "community", "C01"), ("grid_worker", "grid", "G1"),
                             ("resident", "district", ""), ("committee_member", "district", "")]:
        user = make_user(kangbashi, f"u_{role}", role, kind, code)
        client = client_for(kangbashi, user)
        for url in ("/api/v1/settings/modules/", "/api/v1/settings/users/", "/api/v1/settings/branding/",
                    "/api/v1/settings/audit/"):
            response = client.get(url)
            assert response.status_code == 403, (role, url)
            assert "district administrator" in response.json()["error"]["message"]
        assert client.get("/manage/").status_code == 403
    assert client_for(kangbashi, admin_of(kangbashi)).get("/manage/").status_code == 200


def test_community_staff_publish_only_in_their_community(kangbashi):
    staff = make_user(kangbashi, "wang", "community_staff", "community", "C01")
    client = client_for(kangbashi, staff)
    own = client.post("/api/v1/notices/", {"title": "停水通知", "body": "明天停水", "category": "news",
                                           "scope_kind": "community", "scope_code": "C01"}, format="json")
    assert own.status_code == 201
    other = client.post("/api/v1/notices/", {"title": "x", "body": "y", "category": "news",
                                             "scope_kind": "community", "scope_code": "C02"}, format="json")
    assert other.status_code == 403
    district_wide = client.post("/api/v1/notices/", {"title": "x", "body": "y", "category": "news"}, format="json")
    assert district_wide.status_code == 403
    resident = make_user(kangbashi, "zhang", "resident")
    assert client_for(kangbashi, resident).post("/api/v1/notices/", {"title": "x", "body": "y", "category": "news"},
                                                format="json").status_code == 403
    with tenant_context(kangbashi):
        assert Notice.objects.filter(title="停水通知", scope_code="C01").count() == 1
        assert Notice.objects.filter(title="x").count() == 0


def test_scope_filtering_and_containment(kangbashi):
    grid = make_user(kangbashi, "li", "grid_worker", "grid", "G0101")
    admin = admin_of(kangbashi)
    with tenant_context(kangbashi):
        qs = RoleAssignment.objects.all()
        fields = {"grid": "scope_code"}
        assert set(in_scope(grid, qs, roles=GRID_WORKERS, fields=fields).values_list("scope_code", flat=True)) == {"G0101"}
        assert in_scope(admin, qs, roles=[Role.DISTRICT_ADMIN], fields=fields).count() == qs.count()
        assert in_scope(grid, qs, roles=[Role.DISTRICT_ADMIN], fields=fields).count() == 0
        assert not has_role_for(grid, GRID_WORKERS, "grid", "G0102")
        assert not scope_covers("community", "C01", "grid", "G0101")  # no such grid in this district
        rule = lambda k, c, tk, tc: k == "community" and tk == "grid" and tc.startswith(c[1:])  # noqa: E731
        register_containment(rule)
        try:
            assert scope_covers("community", "C01", "grid", "01x")
        finally:
            from kernel import permissions

            permissions._containment.remove(rule)


def test_role_scope_rules_and_last_admin(kangbashi):
    user = make_user(kangbashi, "zhou")
    with tenant_context(kangbashi):
        with pytest.raises(DomainError, match="grid"):
            assign_role(actor=None, user=user, role="grid_worker", scope_kind="district")
        with pytest.raises(DomainError):
            assign_role(actor=None, user=user, role="grid_worker", scope_kind="grid", scope_code="")
        with pytest.raises(DomainError):
            assign_role(actor=None, user=user, role="emperor")
        only_admin = RoleAssignment.objects.get(role="district_admin")
        with pytest.raises(DomainError, match="at least one administrator"):
            revoke_role(actor=None, assignment=only_admin)
        assert RoleAssignment.objects.filter(role="district_admin").count() == 1


def test_admin_adds_a_grid_worker_through_the_api(kangbashi):
    build_places(kangbashi)  # the grid G0101 the role is given on
    client = client_for(kangbashi, admin_of(kangbashi))
    response = client.post("/api/v1/settings/users/", {
        "username": "gw1", "display_name": "李强", "password": "grid-pass-123", "phone": "13700001111",
        "role": "grid_worker", "scope_kind": "grid", "scope_code": "G0101"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["phone"] == "137****1111"
    assert body["roles"] == [{"id": body["roles"][0]["id"], "role": "grid_worker", "scope_kind": "grid",
                              "scope_code": "G0101"}]
    dup = client.post("/api/v1/settings/users/", {"username": "gw1", "role": "resident"}, format="json")
    assert dup.status_code == 409
    bad_scope = client.post("/api/v1/settings/users/", {"username": "gw2", "role": "grid_worker",
                                                        "scope_kind": "district"}, format="json")
    assert bad_scope.status_code == 400
    connection.set_schema_to_public()
    with tenant_context(kangbashi):
        from django.contrib.auth import get_user_model

        assert not get_user_model().objects.filter(username="gw2").exists()  # nothing half-saved
        assert AuditEntry.objects.filter(action="role.assign", target_id=str(body["id"])).exists()
    removed = client.delete(f"/api/v1/settings/users/{body['id']}/roles/{body['roles'][0]['id']}/")
    assert removed.status_code == 204


def test_the_api_gives_roles_only_on_places_the_district_has(kangbashi):
    """The users page's rule (accounts.services.grant_role) holds for the API: a typed scope code that
    names no place of the district is refused, and nothing is half-saved."""
    build_places(kangbashi)
    client = client_for(kangbashi, admin_of(kangbashi))
    typed = client.post("/api/v1/settings/users/", {"username": "gw9", "role": "grid_worker",
                                                    "scope_kind": "grid", "scope_code": "G9999"}, format="json")
    assert typed.status_code == 400 and "G9999" in typed.json()["error"]["message"]
    assert "scope_code" in typed.json()["error"]["fields"]
    made = client.post("/api/v1/settings/users/", {"username": "cs9", "role": "community_staff",
                                                   "scope_kind": "community", "scope_code": "C01"}, format="json")
    assert made.status_code == 201, made.json()
    roles_url = f"/api/v1/settings/users/{made.json()['id']}/roles/"
    elsewhere = client.post(roles_url, {"role": "community_staff", "scope_kind": "community", "scope_code": "C99"},
                            format="json")
    assert elsewhere.status_code == 400 and "scope_code" in elsewhere.json()["error"]["fields"]
    no_code = client.post(roles_url, {"role": "grid_worker", "scope_kind": "grid", "scope_code": ""}, format="json")
    assert no_code.status_code == 400
    given = client.post(roles_url, {"role": "grid_worker", "scope_kind": "grid", "scope_code": "G0102"}, format="json")
    assert given.status_code == 201 and given.json()["scope_code"] == "G0102"
    with tenant_context(kangbashi):
        from django.contrib.auth import get_user_model

        assert not get_user_model().objects.filter(username="gw9").exists()
        assert sorted(RoleAssignment.objects.filter(user__username="cs9").values_list("scope_code", flat=True)) == [
            "C01", "G0102"]
    connection.set_schema_to_public()


def test_district_admin_runs_the_django_admin_of_their_district_only(kangbashi, laixi):
    admin = client_for(kangbashi, admin_of(kangbashi))
    page = admin.get("/admin/")
    assert page.status_code == 200 and b"notices" in page.content.lower()
    assert admin.get("/admin/accounts/user/").status_code == 200
    assert admin.get("/admin/tenants/district/").status_code == 403  # the platform's table is not theirs
    staff = client_for(kangbashi, make_user(kangbashi, "cs", "community_staff", "community", "C01"))
    assert staff.get("/admin/").status_code == 302  # to the admin login
    admin.defaults["HTTP_HOST"] = "laixi.localhost"
    assert admin.get("/admin/").status_code == 302


def test_sign_out_needs_a_post(kangbashi):
    client = client_for(kangbashi, admin_of(kangbashi))
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 302
    assert client.get("/api/v1/me/").status_code in (401, 403)


def test_no_public_schema_model_is_reachable_from_a_districts_admin(kangbashi):
    """Every model the admin knows that lives only in the public schema refuses a district's admin."""
    from django.apps import apps
    from django.conf import settings
    from django.contrib import admin as django_admin

    tenant_labels = {apps.get_app_config(a.rsplit(".", 1)[-1]).label for a in settings.TENANT_APPS}
    public_only = [m for m in django_admin.site._registry if m._meta.app_label not in tenant_labels]
    assert public_only  # districts and domains at least
    client = client_for(kangbashi, admin_of(kangbashi))
    index = client.get("/admin/").content.decode()
    for model in public_only:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code in (403, 404), url
        assert url not in index
