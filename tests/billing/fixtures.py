"""Reusable localstripe fixtures: any test folder whose code reaches Stripe (onboarding runs the
``billing`` provisioning step) can use them. In its conftest.py:

    from tests.billing.fixtures import localstripe_url, use_localstripe  # noqa: F401

and ask for ``use_localstripe`` (or make an autouse fixture that does)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

WEBHOOK_SECRET = "whsec_test_mashang"
LOCALSTRIPE_VERSION = "2017-08-15"  # what localstripe writes on every event
TEST_KEY = "sk_test_mashang"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    request = urllib.request.Request(f"{url}/v1/customers?limit=1", headers={"Authorization": f"Bearer {TEST_KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory):
    """``python -m localstripe`` on a free port, until the session ends."""
    where = tmp_path_factory.mktemp("localstripe")
    port = free_port()
    log = open(where / "localstripe.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "localstripe", "--port", str(port), "--from-scratch"],
                            cwd=where, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while not _answers(url):
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError("localstripe did not start:\n" + (where / "localstripe.log").read_text())
        time.sleep(0.1)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture
def use_localstripe(settings, localstripe_url, monkeypatch):
    """The gateway talks to localstripe (no send_invoice, no meters there); its events' API version is
    accepted here only. Celery tasks kicked by name run in place. Stripe starts empty."""
    from config.celery import app

    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_SECRET_KEY = TEST_KEY
    settings.STRIPE_SUPPORTS_SEND_INVOICE = False
    settings.STRIPE_SUPPORTS_METER_EVENTS = False
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_ACCEPTED_API_VERSIONS = [settings.STRIPE_API_VERSION, LOCALSTRIPE_VERSION]
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    urllib.request.urlopen(urllib.request.Request(f"{localstripe_url}/_config/data", method="DELETE"), timeout=5)
    yield


