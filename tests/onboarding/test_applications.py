"""Filing an application: every field's rule, and the review round trip (services)."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kernel.errors import Conflict, DomainError
from kernel.models import AuditEntry
from onboarding.models import Application, Comment
from onboarding.services import (
    add_comment,
    approve_application,
    create_application,
    return_application,
    submit_application,
    update_application,
    withdraw_application,
)
from onboarding.services.rules import region_name
from tests.onboarding.conftest import application_data, png_bytes

pytestmark = pytest.mark.django_db


def test_region_codes_resolve_from_the_stdnum_table():
    assert region_name("150603") == "内蒙古自治区 康巴什区"
    assert region_name("370215") == "山东省 即墨区"
    assert region_name("999999") is None and region_name("15060") is None


def test_a_valid_application_is_stored_with_its_contact_encrypted(vendor, vendor_user):
    app = create_application(actor=vendor_user, vendor=vendor, data=application_data(),
                             logo=SimpleUploadedFile("x.bin", png_bytes()))
    app.refresh_from_db()
    assert app.state == "draft" and app.region_name == "内蒙古自治区 康巴什区"
    assert app.domain == "kbs-new.localhost"
    assert "13912345678" not in app.contact_phone_encrypted and app.contact_phone == "+8613912345678"
    assert app.contact_phone_masked == "139****5678"
    assert app.modules == ["registry", "codes", "cases", "notices"]
    assert app.logo.name.endswith(".png")
    assert app.dpa_accepted_at and app.dpa_accepted_by == vendor_user and app.dpa_signer == "马骏"
    assert AuditEntry.objects.filter(action="onboarding.application.create", target_id=str(app.pk)).exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"region_code": "999999"}, "region_code"),
    ({"region_code": "15060"}, "region_code"),
    ({"slug": "Bad Slug"}, "slug"),
    ({"slug": "spare-abc"}, "slug"),
    ({"domain": "not a host"}, "domain"),
    ({"domain": "-bad.example.cn"}, "domain"),
    ({"domain": "other.localhost"}, "domain"),
    ({"contact_phone": "12345"}, "contact_phone"),
    ({"contact_email": "nope"}, "contact_email"),
    ({"population": 0}, "population"),
    ({"population": "many"}, "population"),
    ({"modules": ["points", "nope"]}, "modules"),
    ({"seed_template": "atlantis"}, "seed_template"),
    ({"primary_color": "red"}, "primary_color"),
    ({"plan_key": ""}, "plan_key"),
    ({"plan_key": "no-such-plan"}, "plan_key"),  # checked against billing.Plan
    ({"dpa_version": "1999-01"}, "dpa_version"),
    ({"dpa_signer": ""}, "dpa_signer"),
])
def test_bad_fields_are_refused_and_nothing_is_saved(vendor, vendor_user, changes, field):
    with pytest.raises(DomainError) as err:
        create_application(actor=vendor_user, vendor=vendor, data=application_data(**changes))
    assert err.value.status == 400 and field in err.value.fields
    assert not Application.objects.exists()


def test_every_bad_field_is_reported_at_once(vendor, vendor_user):
    with pytest.raises(DomainError) as err:
        create_application(actor=vendor_user, vendor=vendor,
                           data=application_data(region_code="000000", population=-1, contact_email="x"))
    assert {"region_code", "population", "contact_email"} <= set(err.value.fields)


def test_a_missing_module_dependency_is_explained(vendor, vendor_user, monkeypatch):
    from modules.catalog import catalog
    from modules.spec import ModuleSpec

    specs = dict(catalog.specs)
    specs["extra"] = ModuleSpec(key="extra", name_zh="附加", name_en="Extra", depends=("points",))
    monkeypatch.setitem(catalog.__dict__, "specs", specs)
    with pytest.raises(DomainError) as err:
        create_application(actor=vendor_user, vendor=vendor, data=application_data(modules=["extra"]))
    assert err.value.code == "module_dependency"
    assert "points" in err.value.fields["modules"][0] and "extra" in err.value.fields["modules"][0]


def test_a_bad_logo_is_refused_by_its_content(vendor, vendor_user):
    fake = SimpleUploadedFile("logo.png", b"<svg>not a png</svg>", content_type="image/png")
    with pytest.raises(DomainError) as err:
        create_application(actor=vendor_user, vendor=vendor, data=application_data(), logo=fake)
    assert "logo" in err.value.fields
    assert not Application.objects.exists()


def test_taken_slugs_and_domains_are_409(vendor, vendor_user, vendor2, vendor2_user, kangbashi):
    from tenants.models import Domain

    Domain.objects.create(domain="kbs.example.cn", tenant=kangbashi, is_primary=False)
    for changes, field in [({"slug": "kangbashi"}, "slug"), ({"domain": "kbs.example.cn", "slug": "kx"}, "domain")]:
        with pytest.raises(Conflict) as err:
            create_application(actor=vendor_user, vendor=vendor, data=application_data(**changes))
        assert err.value.status == 409 and field in err.value.fields
    create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="city-a", domain="city.example.cn"))
    with pytest.raises(Conflict) as err:
        create_application(actor=vendor2_user, vendor=vendor2, data=application_data(slug="city-a"))
    assert "slug" in err.value.fields
    with pytest.raises(Conflict) as err:
        create_application(actor=vendor2_user, vendor=vendor2, data=application_data(slug="city-b",
                                                                                     domain="City.Example.cn"))
    assert "domain" in err.value.fields


def test_a_withdrawn_application_frees_its_slug(vendor, vendor_user, vendor2, vendor2_user):
    first = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="city-w"))
    withdraw_application(actor=vendor_user, application=first)
    second = create_application(actor=vendor2_user, vendor=vendor2, data=application_data(slug="city-w"))
    assert second.slug == "city-w"


def test_only_own_districts_can_be_copied(vendor, vendor_user, laixi):
    app = create_application(actor=vendor_user, vendor=vendor, data=application_data(source_district="kangbashi"))
    assert app.source_district.slug == "kangbashi"
    with pytest.raises(DomainError) as err:
        create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="x2", source_district="laixi"))
    assert "source_district" in err.value.fields


def test_review_round_trip(vendor, vendor_user, ops_user):
    data = application_data()
    data.pop("dpa_accepted")
    app = create_application(actor=vendor_user, vendor=vendor, data=data)
    with pytest.raises(DomainError) as err:  # the agreement must be accepted first
        submit_application(actor=vendor_user, application=app)
    assert "dpa_accepted" in err.value.fields
    app = update_application(actor=vendor_user, application=app, data={"dpa_accepted": "on", "dpa_signer": "马骏",
                                                                       "dpa_version": data["dpa_version"]})
    app = submit_application(actor=vendor_user, application=app)
    assert app.state == "submitted"
    with pytest.raises(Conflict):
        update_application(actor=vendor_user, application=app, data={"population": 5})
    with pytest.raises(DomainError):
        return_application(actor=ops_user, application=app, comment="  ")
    app = return_application(actor=ops_user, application=app, comment="请补充联系人手机号")
    assert app.state == "returned"
    add_comment(actor=vendor_user, application=app, body="已补充", kind=Comment.Kind.VENDOR)
    app = update_application(actor=vendor_user, application=app, data={"population": 130000, "slug": "kbs-renamed"})
    assert app.domain == "kbs-renamed.localhost"  # the default address follows the slug
    app = submit_application(actor=vendor_user, application=app)
    assert app.state == "resubmitted"
    assert list(app.comments.values_list("author_kind", flat=True)) == ["staff", "vendor"]
    with pytest.raises(DomainError):
        approve_application(actor=ops_user, application=app, reason="")
    run = approve_application(actor=ops_user, application=app, reason="材料齐全")
    app.refresh_from_db()
    assert app.state == "approved" and run.status == "queued"
    assert set(run.steps.values_list("key", flat=True)) >= {"district", "rules", "branding"}
    with pytest.raises(Conflict):
        withdraw_application(actor=vendor_user, application=app)
    actions = set(AuditEntry.objects.filter(target_type="onboarding.application", target_id=str(app.pk))
                  .values_list("action", flat=True))
    assert actions >= {"onboarding.application.create", "onboarding.application.update",
                       "onboarding.application.submit", "onboarding.application.return", "onboarding.comment",
                       "onboarding.application.approve"}


def test_the_demo_application_waits_for_review_and_is_seeded_once():
    from onboarding.demo import seed_demo

    first = seed_demo()
    assert first.state == "submitted" and first.region_name == "山东省 即墨区" and first.vendor.slug == "qingdao-zhicheng"
    assert first.created_by.username == "vendor2" and first.logo
    assert seed_demo().pk == first.pk
    assert Application.objects.filter(slug="jimo").count() == 1
