"""Redis down must not stop a report (issue 10, item 1).

As infra/compose.yaml deploys it, one Redis is both the cache and the Celery broker. This test starts
its own redis-server on a free port, runs the web as deployed (gunicorn with infra/gunicorn.conf.py,
REDIS_URL pointing at that Redis, the broker following it) on the test database, kills Redis by pid,
and checks that a resident can still report through the API and the report page, that the case rows
are stored (their events waiting in the outbox), that readiness says "degraded" with 200, and that
everything is back to normal once Redis is restarted. It also prints the time a case POST takes
while Redis is down (infra/RUNBOOK.md section 8 quotes it)."""
from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context, tenant_context

from tests.conftest import ROOT, _test_database_url, host, make_user
from tests.redis_server import REDIS_SERVER, Redis, free_port

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs Debian's redis-server")
SLUG = "redisdown"


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = Redis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait(10)


@pytest.fixture(scope="module")
def district(django_db_setup, django_db_blocker):
    """A committed district of this module alone (the web in another process must see its rows),
    with a signed-in resident (token and session). Dropped at the end."""
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from modules.cases.models import Category
    from tenants.models import District
    from tenants.services import AdminSpec, create_district

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        made = create_district(slug=SLUG, name_zh="雷迪斯区", name_en="Redisdown", modules=["registry", "codes", "cases"],
                               admin=AdminSpec(username="admin", password="pw-123456789"), use_pool=False)
        district = District.objects.get(slug=SLUG)
        resident = make_user(district, "resident", "resident")
        with tenant_context(district):
            token = Token.objects.get_or_create(user=resident)[0].key
            category = Category.objects.filter(active=True).order_by("pk").values_list("code", flat=True).first()
            browser = Client(HTTP_HOST=host(SLUG))
            browser.force_login(resident, backend="django.contrib.auth.backends.ModelBackend")
            session = browser.cookies[settings.SESSION_COOKIE_NAME].value
        connection.set_schema_to_public()
        assert category, "the cases seed made no category"
        yield {"district": district, "token": token, "session": session, "category": category, "created": made}
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{district.schema_name}" CASCADE')
        district.domains.all().delete()
        District.objects.filter(pk=district.pk).delete()


@pytest.fixture(scope="module")
def web(redis_server, district, django_db_blocker):
    """The web as deployed: gunicorn (infra/gunicorn.conf.py), one sync worker, cache and broker on
    this test's Redis (no CELERY_BROKER_URL: the broker follows REDIS_URL, as in compose)."""
    port = free_port()
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    env = {**os.environ, "DATABASE_URL": database_url, "MASHANG_TESTING": "1", "REDIS_URL": redis_server.url,
           "MASHANG_RUN_DIR": str(settings.RUN_DIR), "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}", "PORT": str(port), "WEB_CONCURRENCY": "1",
           "LOG_LEVEL": "warning", "SMS_SENDER": "kernel.sms.ConsoleSender", "DB_CONN_MAX_AGE": "0"}
    env.pop("CELERY_BROKER_URL", None)
    log_path = settings.RUN_DIR / "test-redis-down-web.log"
    log = open(log_path, "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "infra/gunicorn.conf.py", "config.wsgi:application"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/health/", timeout=10).status_code == 200:
                break
        except (requests.ConnectionError, requests.Timeout):
            pass
        if proc.poll() is not None:
            raise RuntimeError("gunicorn died:\n" + log_path.read_text())
        time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("gunicorn did not start within 90 s:\n" + log_path.read_text())
    yield {"base": base, "log": log_path}
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def api(web, district) -> requests.Session:
    s = requests.Session()
    s.headers.update({"Host": host(SLUG), "Authorization": f"Bearer {district['token']}", "Accept-Language": "en"})
    return s


def browser(web, district) -> requests.Session:
    s = requests.Session()
    s.headers.update({"Host": host(SLUG), "Accept-Language": "en"})
    s.cookies.set(settings.SESSION_COOKIE_NAME, district["session"])
    return s


def post_case(web, district, title: str) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = api(web, district).post(f"{web['base']}/api/v1/cases/", json={
        "category": district["category"], "title": title, "description": "Redis 停了也要能报"}, timeout=60)
    return response, time.perf_counter() - started


def report_page(web, district, title: str) -> requests.Response:
    page = browser(web, district)
    form = page.get(f"{web['base']}/cases/report/", timeout=60)
    assert form.status_code == 200, form.text[:2000]
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
    return page.post(f"{web['base']}/cases/report/", data={
        "csrfmiddlewaretoken": csrf, "idempotency_key": key, "category": district["category"], "title": title,
        "description": "页面上报"}, allow_redirects=False, timeout=60)


def readiness(web) -> requests.Response:
    return requests.get(f"{web['base']}/ready/", headers={"Host": host(SLUG)}, timeout=30)


def stored(district, title: str, django_db_blocker):
    from kernel.models import OutboxEvent
    from modules.cases.models import Case

    with django_db_blocker.unblock(), schema_context(district["district"].schema_name):
        case = Case.objects.filter(title=title).first()
        events = OutboxEvent.objects.filter(delivered_at__isnull=True).count()
    connection.set_schema_to_public()
    return case, events


def timed_posts(web, district, label: str, n: int, django_db_blocker) -> list[float]:
    """``n`` case POSTs as the resident: each 201, its row stored, its event waiting in the outbox."""
    timings = []
    for i in range(n):
        title = f"{label} {i}"
        response, seconds = post_case(web, district, title)
        assert response.status_code == 201, response.text
        timings.append(seconds)
        case, pending = stored(district, title, django_db_blocker)
        assert case is not None and response.json()["id"] == case.pk
        assert pending >= 1
    return timings


def test_a_resident_reports_while_redis_is_down_and_all_recovers(redis_server, district, web, django_db_blocker):
    # Redis up: everything normal, and the cache is in use (throttle counters in Redis).
    up = timed_posts(web, district, "Redis 在", 5, django_db_blocker)
    ready = readiness(web)
    assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
    assert ready.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert redis_server.keys()

    # Redis hangs (stopped, connections open): the first request waits for the socket timeout, then
    # the circuit spares the others; readiness answers in time and says degraded.
    redis_server.hang()
    hung = timed_posts(web, district, "Redis 卡住", 3, django_db_blocker)
    assert max(hung) < 5.0, hung
    started = time.perf_counter()
    ready = readiness(web)
    assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
    assert time.perf_counter() - started < 4.0  # compose's health check gives up after 4 s

    redis_server.kill()

    # Redis gone: a resident reports through the API (201, the row stored, its event in the outbox) ...
    down = timed_posts(web, district, "Redis 停了", 5, django_db_blocker)
    # ... and through the report page: the redirect to the new case's page, and the row.
    page = report_page(web, district, "页面报 Redis 停了")
    assert page.status_code == 302, page.text[:3000]
    case, _ = stored(district, "页面报 Redis 停了", django_db_blocker)
    assert case is not None and page.headers["Location"].endswith("?new=1")
    # An anonymous caller of the API too (AnonThrottle).
    anonymous = requests.get(f"{web['base']}/api/v1/district/", headers={"Host": host(SLUG)}, timeout=30)
    assert anonymous.status_code == 200, anonymous.text

    # Readiness: degraded (which dependencies), but 200 so a load balancer keeps sending reports.
    ready = readiness(web)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "degraded" and set(body["degraded"]) == {"cache", "broker"}
    assert body["checks"]["database"] == "ok"
    assert body["counters"]["redis_cache_failures_total"] >= 1
    assert body["counters"].get("redis_cache_skipped_total", 0) >= 1  # the circuit spared Redis the rest
    log = web["log"].read_text()
    assert "Redis cache redis://127.0.0.1:" in log and "unavailable" in log
    assert log.count("Redis cache redis://") <= 3  # rate-limited, not one line per call
    figures = {"metric": "case_post_seconds", "redis_up": round(statistics.median(up), 3),
               "redis_hung": [round(t, 3) for t in hung], "redis_down": round(statistics.median(down), 3),
               "redis_down_max": round(max(down), 3)}
    print(json.dumps(figures))
    assert statistics.median(down) < 2.0, figures  # a refused Redis costs next to nothing

    # Redis back: readiness says ok again (its ping closes the circuit), and the cache is used again.
    redis_server.start()
    assert not redis_server.keys()
    ready = readiness(web)
    assert ready.status_code == 200 and ready.json()["status"] == "ok", ready.text
    again, _ = post_case(web, district, "Redis 回来了")
    assert again.status_code == 201, again.text
    assert redis_server.keys()  # this request's throttle counter went to Redis


def test_the_cache_goes_on_without_redis_and_catches_up_when_it_is_back(redis_server):
    """The fail-open cache itself, on this test's Redis: reads miss, writes do nothing, counts start
    from zero while the circuit is open; a delete it could not do is done once Redis answers again
    (else a value changed during the outage would be served stale for its whole TTL)."""
    from kernel.observability import counters
    from kernel.redis_cache import FailOpenRedisCache, circuit_for

    if redis_server.proc.poll() is not None:
        redis_server.start()
    cache = FailOpenRedisCache(redis_server.url, {"KEY_PREFIX": "t", "OPTIONS": {"socket_timeout": 0.5}})
    cache.set("config", "old", 300)
    assert cache.get("config") == "old"

    circuit = circuit_for(redis_server.url)
    circuit.trip("test", ConnectionError("as if Redis had gone"))  # what one failed call does
    skipped = counters().get("redis_cache_skipped_total", 0)
    assert cache.get("config", "default") == "default"
    assert cache.add("lock", 1) is True and cache.incr("hits", 5) == 5 and cache.get_many(["config"]) == {}
    cache.delete("config")  # the writer changed it: this delete cannot reach Redis now
    assert counters()["redis_cache_skipped_total"] - skipped == 5
    assert redis_server.keys()  # "old" is still in Redis

    circuit.open_until = 0.0  # the circuit's few seconds are over
    assert cache.get("other") is None  # Redis answers: the missed delete is done now
    assert cache.get("config") is None and not circuit.missed_deletes and not circuit.tripped
