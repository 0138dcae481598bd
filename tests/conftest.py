"""Shared fixtures. Districts are created once per test session (schemas are slow to build); each
test runs in a transaction that is rolled back, switching schema as it goes (see DESIGN.md traps)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

ROOT = Path(__file__).resolve().parents[1]

# slug -> modules. "dongsheng" has notices and points off so tests can see a disabled module.
TEST_DISTRICTS = {
    "kangbashi": ["registry", "codes", "cases", "points", "ratings", "participation", "notices"],
    "dongsheng": ["registry", "codes", "cases", "ratings"],
    "laixi": ["registry", "codes", "points", "participation", "notices"],
    "worker": ["registry", "codes", "notices", "points"],  # committed data for real-worker tests
}
PASSWORD = "test-pass-123"


def host(slug: str) -> str:
    return f"{slug}.{settings.DISTRICT_DOMAIN_SUFFIX}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """After pytest-django built and migrated the test database: the test districts."""
    from django.test.utils import setup_databases, teardown_databases

    from tenants.models import District
    from tenants.services import AdminSpec, create_district

    built = None
    with django_db_blocker.unblock():
        if not connection.settings_dict["NAME"].startswith("test_"):
            # pytest-django builds the test database only when a selected test asks for `db`; tests on
            # committed data (a real worker, a browser) need it all the same.
            built = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        assert connection.settings_dict["NAME"].startswith("test_"), "refusing to seed a non-test database"
        connection.set_schema_to_public()
        for slug, modules in TEST_DISTRICTS.items():
            if not District.objects.filter(slug=slug).exists():
                create_district(slug=slug, name_zh=f"{slug}区", name_en=slug.title(), modules=modules,
                                admin=AdminSpec(username="admin", password=PASSWORD), use_pool=False)
        connection.set_schema_to_public()
    yield
    if built is not None:
        with django_db_blocker.unblock():
            teardown_databases(built, verbosity=0)


@pytest.fixture(scope="session", autouse=True)
def _test_database_first(django_db_setup):
    """Every run builds the test database first, so no test can reach the developer's database
    through django_db_blocker (pytest-django only sets it up when a selected test asks for it)."""


def clear_cache() -> None:
    """Forget what this run cached: its own keys only (never FLUSHDB: the Redis may be shared with a
    dev server or another run), and this process's memo of per-district reference data."""
    from kernel import cache as two_level

    two_level._local.clear()
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"*:{settings.CACHE_KEY_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    else:
        cache.clear()


@pytest.fixture(autouse=True)
def _clean_state():
    from kernel.sms import MemorySender
    from tenants.middleware import forget_hosts

    forget_hosts()  # a district cached by a rolled-back test must not leak into the next
    clear_cache()
    MemorySender.outbox.clear()
    yield
    connection.set_schema_to_public()
    # django-tenants' storage caches the media root and misses a test's MEDIA_ROOT override.
    from django.core.files.storage import default_storage
    from django.utils.functional import empty

    if default_storage._wrapped is not empty:
        default_storage._wrapped.__dict__.pop("relative_media_root", None)


@pytest.fixture(autouse=True)
def _memory_sms(settings):
    settings.SMS_SENDER = "kernel.sms.MemorySender"


def _district(slug):
    from tenants.models import District

    connection.set_schema_to_public()
    return District.objects.get(slug=slug)


@pytest.fixture
def kangbashi(db):
    return _district("kangbashi")


@pytest.fixture
def dongsheng(db):
    return _district("dongsheng")


@pytest.fixture
def laixi(db):
    return _district("laixi")


@dataclass
class Actor:
    user: object
    district: object

    def client(self, *, token: bool = False) -> APIClient:
        return client_for(self.district, self.user, token=token)


def make_user(district, username: str, role: str | None = None, scope_kind: str = "district", scope_code: str = "",
              phone: str | None = None):
    from django.contrib.auth import get_user_model

    from accounts.services import create_user
    from kernel.services import assign_role

    with tenant_context(district):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = create_user(actor=None, username=username, password=PASSWORD, phone=phone)
        if role:
            assign_role(actor=None, user=user, role=role, scope_kind=scope_kind, scope_code=scope_code)
    connection.set_schema_to_public()
    return user


def admin_of(district):
    from django.contrib.auth import get_user_model

    with tenant_context(district):
        user = get_user_model().objects.get(username="admin")
    return user


def client_for(district, user=None, *, token: bool = False) -> APIClient:
    """An API client talking to the district's host, signed in as ``user`` (session or token)."""
    client = APIClient(HTTP_HOST=host(district.slug), HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        with tenant_context(district):  # the session / token is stored in the district's schema
            if token:
                from rest_framework.authtoken.models import Token

                key = Token.objects.get_or_create(user=user)[0].key
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
            else:
                client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    connection.set_schema_to_public()
    return client


@pytest.fixture
def admin_client(kangbashi):
    return client_for(kangbashi, admin_of(kangbashi))


# --- a real Celery worker ---------------------------------------------------------------------------

def _test_database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    hostname = s.get("HOST") or ""
    if hostname.startswith("/"):
        return f"postgresql://{user}{password}@/{s['NAME']}?host={hostname}"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgresql://{user}{password}@{hostname or '127.0.0.1'}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on the test database and the test queue."""
    broker_dir = settings.RUN_DIR / "broker"
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        shutil.rmtree(broker_dir, ignore_errors=True)
        for sub in ("in", "processed", "control"):
            (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    else:
        from config.celery import app

        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    with django_db_blocker.unblock():
        url = _test_database_url()
    env = {**os.environ, "DATABASE_URL": url, "MASHANG_TESTING": "1", "MASHANG_RUN_DIR": str(settings.RUN_DIR),
           "CACHE_KEY_PREFIX": settings.CACHE_KEY_PREFIX,
           "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'platform'}", "SMS_SENDER": "kernel.sms.ConsoleSender",
           "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1"}  # webhook tests' receivers listen there
    log = open(settings.RUN_DIR / "test-worker.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO",
         "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--without-heartbeat", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if "ready." in (settings.RUN_DIR / "test-worker.log").read_text(errors="replace"):
            break
        if proc.poll() is not None:
            raise RuntimeError("celery worker died:\n" + (settings.RUN_DIR / "test-worker.log").read_text())
        time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("celery worker did not start within 60 s")
    yield proc
    proc.terminate()
    shutil.rmtree(broker_dir, ignore_errors=True)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# --- headless Chromium against the real WSGI app --------------------------------------------------

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                    reason="Debian chromium is not installed (CI installs it)")


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    """The real WSGI app on 127.0.0.1 (threaded), reading the committed test districts. Returns a
    template: ``live_server_url.format(host="laixi.localhost")``."""
    import threading
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.handlers.wsgi import WSGIHandler

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    class ThreadingServer(WSGIServer):
        daemon_threads = True

        def process_request(self, request, client_address):
            threading.Thread(target=self._handle, args=(request, client_address), daemon=True).start()

        def _handle(self, request, client_address):
            try:
                self.finish_request(request, client_address)
            finally:
                self.shutdown_request(request)
                from django.db import connections

                connections.close_all()

    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=ThreadingServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        yield f"http://{{host}}:{server.server_port}"
        server.shutdown()


@contextmanager
def chromium():
    """A headless Chromium (Debian's), launched with the flags this closed network needs. Playwright
    runs an event loop while it is open, so database reads go before or after this block."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--host-resolver-rules=MAP *.localhost 127.0.0.1"])
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, server: str, username: str, next_url: str) -> None:
    """Sign in on the portal's password form (a browser test's page) and land on ``next_url``."""
    import re

    page.goto(f"{server}/login/?next={next_url}")
    page.click("details summary")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[value="password"]')
    page.wait_for_url(re.compile(re.escape(next_url) + "$"))


def in_thread(district, fn):
    """Run ``fn()`` in the district's schema on a thread of its own and return what it returns: database
    work while a browser is open (Playwright's event loop owns the test's thread)."""
    import threading

    from django.db import connections

    out, errors = [], []

    def run():
        try:
            with tenant_context(district):
                out.append(fn())
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return out[0] if out else None
