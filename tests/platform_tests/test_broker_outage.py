"""A broker outage never ends a worker: a real `celery worker` on a Redis of its own outlives a 60 s
outage (Redis killed by pid) and, once Redis is back on the same port, delivers the event written
while it was down (the outbox row waited; the periodic sweep sends the relay)."""
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import tenant_context

from kernel import events
from kernel.models import OutboxEvent
from modules.notices.models import Notice
from modules.notices.services import publish_notice
from tests.broker import sending_to
from tests.conftest import ROOT, _test_database_url, admin_of, wait_for
from tests.redis_server import REDIS_SERVER, Redis

OUTAGE_SECONDS = 60

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="redis-server is not installed")


@pytest.mark.worker
def test_the_worker_outlives_a_60_s_broker_outage_and_delivers_what_waited(django_db_blocker, monkeypatch):
    from kernel.tasks import relay_all_districts
    from tenants.models import District

    monkeypatch.setattr(events, "_broker_down_until", 0.0)  # the failed kick's back-off stays in this test
    redis = Redis()
    redis.start()
    port, broker = redis.port, redis.url
    log_path = settings.RUN_DIR / "outage-worker.log"
    with django_db_blocker.unblock():
        env = {**os.environ, "DATABASE_URL": _test_database_url(), "MASHANG_TESTING": "1",
               "MASHANG_RUN_DIR": str(settings.RUN_DIR), "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
               "CELERY_BROKER_URL": broker, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}",
               "SMS_SENDER": "kernel.sms.ConsoleSender"}
        env.pop("CELERY_BROKER_CONNECTION_MAX_RETRIES", None)  # the default, as deployed
        log = open(log_path, "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
             "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-n", f"outage-{port}@%h", "--without-heartbeat",
             "--without-gossip", "--without-mingle"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            assert wait_for(lambda: "ready." in log_path.read_text(errors="replace") or worker.poll() is not None,
                            timeout=60) and worker.poll() is None, log_path.read_text()
            redis.kill()
            outage_ends = time.time() + OUTAGE_SECONDS
            connection.set_schema_to_public()
            district = District.objects.get(slug="worker")
            with sending_to(broker), tenant_context(district):
                notice = publish_notice(actor=admin_of(district), title="停机期间发布", body="x", category="news")
                events.flush_kicks()  # the relay's kick meets the dead broker and is dropped
                assert OutboxEvent.objects.get(payload__notice_id=notice.pk).delivered_at is None
            time.sleep(max(0.0, outage_ends - time.time()))
            assert worker.poll() is None, "the worker gave up during the outage:\n" + log_path.read_text()
            redis.start()  # the same port
            with sending_to(broker):
                connection.set_schema_to_public()
                relay_all_districts.apply_async(headers={"_schema_name": "public"})  # the beat's sweep

            def announced():
                with tenant_context(district):
                    return Notice.objects.filter(pk=notice.pk, announced_at__isnull=False).exists()

            assert wait_for(announced, timeout=90), "nothing delivered after the outage:\n" + log_path.read_text()
            assert worker.poll() is None
        finally:
            connection.set_schema_to_public()
            worker.terminate()
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
            log.close()
            redis.kill()
