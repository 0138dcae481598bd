"""Fixtures of the onboarding tests: platform people (ops, two vendors' users) in the public schema,
and a valid application's fields."""
from __future__ import annotations

import io

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from tests.billing.fixtures import localstripe_url, use_localstripe  # noqa: F401 - fixtures
from tests.conftest import PASSWORD, ROOT  # noqa: F401


@pytest.fixture(autouse=True)
def _stripe(request):
    """Provisioning runs billing's step (Stripe customer and subscription): against the session's
    localstripe (the real-worker test tells its own worker process)."""
    if not request.node.get_closest_marker("worker"):
        request.getfixturevalue("use_localstripe")


def platform_user(username: str, role: str, vendor=None):
    from accounts.services import create_user
    from tenants.services import grant_platform_role

    connection.set_schema_to_public()
    with transaction.atomic():
        user = create_user(actor=None, username=username, password=PASSWORD)
    grant_platform_role(actor=None, user=user, role=role, vendor=vendor)
    return user


def public_client(user=None) -> APIClient:
    client = APIClient(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def vendor(db):
    """The vendor that rolled out kangbashi (so it may copy kangbashi's rules)."""
    from tenants.models import District
    from tenants.services import create_vendor

    connection.set_schema_to_public()
    made = create_vendor(actor=None, slug="v-ordos", name_zh="鄂尔多斯测试服务商")
    District.objects.filter(slug="kangbashi").update(vendor=made)
    return made


@pytest.fixture
def vendor2(db):
    from tenants.services import create_vendor

    connection.set_schema_to_public()
    return create_vendor(actor=None, slug="v-qingdao", name_zh="青岛测试服务商")


@pytest.fixture
def vendor_user(vendor):
    return platform_user("v1user", "vendor", vendor)


@pytest.fixture
def vendor2_user(vendor2):
    return platform_user("v2user", "vendor", vendor2)


@pytest.fixture
def ops_user(db):
    return platform_user("opsuser", "ops")


def png_bytes(size=(32, 32), color="#1565c0") -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def application_data(slug: str = "kbs-new", **changes) -> dict:
    from onboarding.services.rules import DPA_VERSION

    data = {
        "name_zh": "康巴什新区", "name_en": "Kangbashi New", "region_code": "150603", "slug": slug, "domain": "",
        "contact_name": "马骏", "contact_phone": "13912345678", "contact_email": "ma@example.cn",
        "population": 120000, "modules": ["registry", "codes", "cases", "notices"], "seed_template": "default",
        "title_zh": "码上新区", "title_en": "", "primary_color": "#1565c0", "accent_color": "#ffb300",
        "plan_key": "standard", "dpa_accepted": True, "dpa_signer": "马骏", "dpa_version": DPA_VERSION,
    }
    data.update(changes)
    return data


@pytest.fixture
def unheard_queue(monkeypatch):
    """Tasks this test kicks go to a queue of their own that no worker reads (the session's real worker
    would otherwise take the provisioning the test runs itself, with the wrong Stripe), emptied after."""
    import secrets

    from django.conf import settings

    from config.celery import app

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-unheard-{secrets.token_hex(3)}"
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "task_default_queue", queue)
    yield queue
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        from kernel.events import flush_kicks

        flush_kicks()
        with app.connection_for_write() as conn:
            conn.default_channel.queue_delete(queue)
