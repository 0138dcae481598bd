"""A real Celery worker relays a points posting's event and sends the SMS it makes (committed data:
the worker is another process, so no test transaction here)."""
from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from notifications.models import Message
from tests.conftest import admin_of, make_user, wait_for


@pytest.mark.worker
def test_a_real_worker_relays_the_posting_and_sends_the_sms(celery_worker, django_db_blocker):
    """Committed for real: the relay (a points posting's event) and the SMS delivery run in the worker."""
    from modules.points.ledger import rules as rulebook
    from modules.points.ledger import services as points
    from modules.registry import services as registry
    from tenants.models import District

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        district = District.objects.get(slug="worker")
        user = make_user(district, "n-worker-resident", "resident")
        staff = admin_of(district)
        with tenant_context(district):
            resident = registry.register_resident(actor=None, name="沈工", phone="13700005555")
            registry.link_account(actor=None, resident=resident, user=user)
            rulebook.create_rule(actor=staff, code="n_worker", name_zh="测试", direction="add", category="test",
                               min_points=1, max_points=5, default_points=2)
            points.post_entry(actor=staff, resident=resident, rule="n_worker", points=2, reason="真实的工作进程")

        def sent():
            with tenant_context(district):
                return Message.objects.filter(recipient=user, channel="sms", status="sent").exists()

        assert wait_for(sent, timeout=60), "the worker did not relay the posting and send the SMS"
        with tenant_context(district):
            assert Message.objects.filter(recipient=user, channel="inbox", kind="points.awarded").count() == 1
        connection.set_schema_to_public()
