"""Registry: places, residents with protected personal numbers, masking per role, scopes."""
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from kernel.errors import Conflict, DomainError
from kernel.models import AuditEntry
from modules.registry import selectors, services
from modules.registry.models import Membership, Resident
from tests.conftest import admin_of, client_for, make_user

pytestmark = pytest.mark.django_db
ID_A = "11010519491231002X"
ID_B = "150602198001011233"


def valid_id(prefix17: str) -> str:
    from stdnum.cn import ric

    return prefix17 + ric.calc_check_digit(prefix17 + "0")


def build_places(district):
    """Two streets, two communities, three grids, a compound with a building and households."""
    with tenant_context(district):
        s1 = services.create_street(actor=None, code="S01", name="青春山街道")
        s2 = services.create_street(actor=None, code="S02", name="滨河街道")
        c1 = services.create_community(actor=None, code="C01", name="康和社区", street=s1, police_contact="王警官")
        c2 = services.create_community(actor=None, code="C02", name="康泽社区", street=s2)
        g1 = services.create_grid(actor=None, code="G0101", name="第一网格", community=c1)
        g2 = services.create_grid(actor=None, code="G0102", name="第二网格", community=c1)
        g3 = services.create_grid(actor=None, code="G0201", name="第三网格", community=c2)
        comp = services.create_compound(actor=None, code="X01", name="康和小区", grid=g1, property_company="康和物业")
        b1 = services.create_building(actor=None, compound=comp, number="3")
        b2 = services.create_building(actor=None, compound=comp, number="4", grid=g2)
        comp2 = services.create_compound(actor=None, code="X02", name="康泽小区", grid=g3)
        b3 = services.create_building(actor=None, compound=comp2, number="1")
        h1 = services.create_household(actor=None, building=b1, unit="2", room="301", registered_size=3)
        h2 = services.create_household(actor=None, building=b2, unit="1", room="101")
        h3 = services.create_household(actor=None, building=b3, room="502")
    connection.set_schema_to_public()
    return {"g1": g1, "g2": g2, "g3": g3, "h1": h1, "h2": h2, "h3": h3}


def test_resident_numbers_are_encrypted_indexed_and_derived(kangbashi):
    places = build_places(kangbashi)
    with tenant_context(kangbashi):
        r = services.register_resident(actor=None, name="张三", id_number=ID_A.lower(), phone="13912345678",
                                       household=places["h1"], relation="head")
        row = Resident.objects.get(pk=r.pk)
        assert ID_A not in row.id_number_encrypted and "13912345678" not in row.phone_encrypted
        assert row.id_number == ID_A and row.id_number_masked == "110105********002X"
        assert row.birth_date.isoformat() == "1949-12-31" and row.gender == "f"
        assert selectors.resident_by_id_number(ID_A.lower()).pk == r.pk
        with pytest.raises(Conflict):
            services.register_resident(actor=None, name="张三", id_number=ID_A)
        with pytest.raises(DomainError) as bad:
            services.register_resident(actor=None, name="李四", id_number="11010519491231002Y")
        assert "id_number" in bad.value.fields
        with pytest.raises(Conflict):  # one head per household
            services.register_resident(actor=None, name="王五", household=places["h1"], relation="head")
        assert AuditEntry.objects.filter(action="registry.resident.register", target_id=str(r.pk)).exists()
        entry = AuditEntry.objects.get(action="registry.resident.register", target_id=str(r.pk))
        assert ID_A not in str(entry.after) and "13912345678" not in str(entry.after)


def test_masking_per_role_and_own_data(kangbashi):
    places = build_places(kangbashi)
    with tenant_context(kangbashi):
        r = services.register_resident(actor=None, name="张三", id_number=ID_A, phone="13912345678",
                                       household=places["h1"])
    admin = client_for(kangbashi, admin_of(kangbashi))
    full = admin.get(f"/api/v1/registry/residents/{r.pk}/").json()
    assert full["id_number"] == ID_A and full["phone"] == "+8613912345678"
    grid_worker = make_user(kangbashi, "gw", "grid_worker", "grid", "G0101")
    masked = client_for(kangbashi, grid_worker).get(f"/api/v1/registry/residents/{r.pk}/").json()
    assert masked["id_number"] == "110105********002X" and masked["phone"] == "139****5678"
    # the resident sees and corrects their own data
    user = make_user(kangbashi, "zhangsan", "resident")
    with tenant_context(kangbashi):
        Resident.objects.filter(pk=r.pk).update(user=user)
    me = client_for(kangbashi, user)
    assert me.get("/api/v1/registry/me/").json()["id_number"] == "110105********002X"
    fixed = me.patch("/api/v1/registry/me/", {"phone": "13700001111"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["phone"] == "137****1111"
    bad = me.patch("/api/v1/registry/me/", {"id_number": "123"}, format="json")
    assert bad.status_code == 400 and "id_number" in bad.json()["error"]["fields"]
    assert client_for(kangbashi, make_user(kangbashi, "nobody", "resident")).get(
        "/api/v1/registry/me/").status_code == 404


def test_staff_see_only_their_scope(kangbashi):
    places = build_places(kangbashi)
    with tenant_context(kangbashi):
        a = services.register_resident(actor=None, name="甲", id_number=ID_A, household=places["h1"])
        b = services.register_resident(actor=None, name="乙", id_number=ID_B, household=places["h3"])
    grid1 = client_for(kangbashi, make_user(kangbashi, "g1", "grid_worker", "grid", "G0101"))
    community1 = client_for(kangbashi, make_user(kangbashi, "c1", "community_staff", "community", "C01"))
    street2 = client_for(kangbashi, make_user(kangbashi, "s2", "community_staff", "street", "S02"))
    ids = lambda c: {r["id"] for r in c.get("/api/v1/registry/residents/").json()["results"]}  # noqa: E731
    assert ids(grid1) == {a.pk}
    assert ids(community1) == {a.pk}
    assert ids(street2) == {b.pk}
    assert grid1.get(f"/api/v1/registry/residents/{b.pk}/").status_code == 404
    households = {h["id"] for h in community1.get("/api/v1/registry/households/").json()["results"]}
    assert households == {places["h1"].pk, places["h2"].pk}
    filtered = community1.get("/api/v1/registry/households/?grid__code=G0102").json()["results"]
    assert [h["id"] for h in filtered] == [places["h2"].pk]
    resident = client_for(kangbashi, make_user(kangbashi, "r", "resident"))
    assert resident.get("/api/v1/registry/residents/").status_code == 403
    # a community worker registers people in their own community only
    ok = community1.post("/api/v1/registry/residents/", {"name": "丙", "household": places["h2"].pk}, format="json")
    assert ok.status_code == 201
    no = community1.post("/api/v1/registry/residents/", {"name": "丁", "household": places["h3"].pk}, format="json")
    assert no.status_code == 403
    with tenant_context(kangbashi):
        assert not Resident.objects.filter(name="丁").exists()


def test_places_api_admin_writes_and_filters(kangbashi):
    build_places(kangbashi)
    admin = client_for(kangbashi, admin_of(kangbashi))
    grids = admin.get("/api/v1/registry/grids/?community__code=C01").json()["results"]
    assert [g["code"] for g in grids] == ["G0101", "G0102"]
    created = admin.post("/api/v1/registry/communities/", {"code": "C03", "name": "新社区", "street": "S01"},
                         format="json")
    assert created.status_code == 201
    dup = admin.post("/api/v1/registry/communities/", {"code": "C03", "name": "x", "street": "S01"}, format="json")
    assert dup.status_code == 400 and "code" in dup.json()["error"]["fields"]
    staff = client_for(kangbashi, make_user(kangbashi, "c1", "community_staff", "community", "C01"))
    assert staff.get("/api/v1/registry/streets/").status_code == 200
    assert staff.post("/api/v1/registry/streets/", {"code": "S09", "name": "x"}, format="json").status_code == 403
    stall = admin.post("/api/v1/registry/merchants/", {"name": "烤串摊", "kind": "stall"}, format="json")
    assert stall.status_code == 400 and "licensed_place" in stall.json()["error"]["fields"]


def test_bind_and_unbind(kangbashi):
    places = build_places(kangbashi)
    with tenant_context(kangbashi):
        r = services.register_resident(actor=None, name="张三", id_number=ID_A, household=places["h1"])
        services.bind_resident(actor=None, resident=r, household=places["h2"])
        assert selectors.current_households(r).count() == 2
        m = Membership.objects.get(resident=r, household=places["h2"])
        services.end_membership(actor=None, membership=m)
        assert list(selectors.current_households(r)) == [places["h1"]]
        with pytest.raises(Conflict):
            services.bind_resident(actor=None, resident=r, household=places["h1"])


def test_my_household_page(kangbashi):
    places = build_places(kangbashi)
    user = make_user(kangbashi, "zhangsan", "resident")
    with tenant_context(kangbashi):
        r = services.register_resident(actor=None, name="张三", id_number=ID_A, phone="13912345678",
                                       household=places["h1"], relation="head")
        services.link_account(actor=None, resident=r, user=user)
    client = client_for(kangbashi, user)
    page = client.get("/registry/me/").content.decode()
    assert "110105********002X" in page and ID_A not in page and "康和小区3号楼2单元301室" in page
    bad = client.post("/registry/me/", {"phone": "123"}).content.decode()
    assert "phone" in bad
    assert client.post("/registry/me/", {"phone": "13700001111"}).status_code == 302
    with tenant_context(kangbashi):
        assert Resident.objects.get(pk=r.pk).phone == "+8613700001111"
    home = client.get("/").content.decode()
    assert 'data-module="registry"' in home  # a resident sees "my household" in the menu
