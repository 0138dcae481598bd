"""The onboarding demo: vendor2 (青岛智城, ``vendor2`` on the platform site) has filed an application for
即墨区 (Jimo, Qingdao; GB/T 2260 370215), submitted and waiting for platform staff's review. Idempotent:
a second call finds the application and returns it. ``seed_demo`` (console) calls ``seed_demo()``."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from onboarding.models import Application

SLUG = "jimo"
VENDOR = "qingdao-zhicheng"


def seed_demo() -> Application:
    from console.demo import ensure_platform_staff, ensure_vendor, logo_png
    from onboarding.services import create_application
    from onboarding.services.rules import DPA_VERSION
    from tenants.models import District

    connection.set_schema_to_public()
    vendor = ensure_vendor(VENDOR)
    found = Application.objects.filter(vendor=vendor, slug=SLUG).exclude(state=Application.State.WITHDRAWN).first()
    if found is not None:
        return found
    user = get_user_model().objects.filter(username="vendor2").first()
    if user is None:
        ensure_platform_staff()
        user = get_user_model().objects.get(username="vendor2")
    laixi = District.objects.filter(slug="laixi", vendor=vendor).first()  # the vendor's own district: copy its rules
    data = {
        "name_zh": "即墨区", "name_en": "Jimo", "region_code": "370215", "slug": SLUG, "domain": "",
        "contact_name": "孔蕾", "contact_phone": "13605321234", "contact_email": "kong.lei@example.cn",
        "population": 1_340_000, "modules": ["registry", "codes", "cases", "points", "participation", "notices"],
        "seed_template": "laixi", "source_district": laixi.slug if laixi else "",
        "title_zh": "即墨·码上生活", "title_en": "Jimo Life on a Code", "primary_color": "#00695c",
        "accent_color": "#ffca28", "plan_key": "standard",
        "dpa_accepted": True, "dpa_signer": "孔蕾", "dpa_version": DPA_VERSION,
    }
    logo = SimpleUploadedFile("jimo.png", logo_png("J", "#00695c"), content_type="image/png")
    return create_application(actor=user, vendor=vendor, data=data, logo=logo, submit=True)
