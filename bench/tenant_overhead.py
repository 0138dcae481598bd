"""What tenancy costs per request: one small API endpoint through a district host vs the same view
with tenancy bypassed, in the same process and the same run.

Run: ``.venv/bin/python bench/tenant_overhead.py`` (``BENCH_REQUESTS`` per path, default 3000;
``BENCH_ROUNDS``, default 10).

Both paths are Django's own WSGI handler called in-process with a minimal WSGI environ for
``GET /api/v1/district/`` (``portal.api.DistrictView``) with ``Host: <bench district domain>``:

- A, tenant: the platform's middleware stack as configured. ``tenants.middleware.DistrictMiddleware``
  resolves the host to the district (a Domain + District query in the public schema) and sets the
  connection's schema, as in production.
- B, bypass: a second handler built from the same MIDDLEWARE list with only
  ``DistrictMiddleware`` swapped for ``PinnedDistrictMiddleware`` (below), which sets
  ``request.tenant`` to the district loaded once up front; ``connection.set_tenant(district)`` is
  done once before each B round. Every other middleware, the URLconf and the view are the same.

Throttles are off for both paths (``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []``, applied with
``override_settings`` and to the view class, whose throttle list DRF binds at import): the anonymous
limit is 120/min and would turn the run into 429s. Requests are interleaved in rounds, alternating
which path goes first, after a warm-up of both; requests/s is requests over the summed wall time of
that path's rounds. Figures are JSON lines on stdout, logs on stderr.
"""
from __future__ import annotations

import gc
import io
import sys
import time

from _support import bench_slug, drop_district, figure, log, quiet_stdout, setup_django, size

PATH = "/api/v1/district/"
TENANT_MIDDLEWARE = "tenants.middleware.DistrictMiddleware"


class PinnedDistrictMiddleware:
    """Tenancy bypassed: the district was chosen once, up front; nothing is looked up per request."""

    district = None

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = self.district
        return self.get_response(request)


def make_environ(host: str) -> dict:
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": PATH, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": host, "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": host, "HTTP_ACCEPT": "application/json",
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }


def call(handler, environ: dict) -> tuple[str, bytes]:
    status = []

    def start_response(status_line, headers, exc_info=None):
        status.append(status_line)

    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(b"")
    response = handler(env, start_response)
    try:
        body = b"".join(response)
    finally:
        response.close()  # request_finished, as a WSGI server does
    return status[0], body


def run(handler, environ: dict, count: int, before=None) -> float:
    if before is not None:
        before()
    gc.collect()
    bad = 0
    started = time.perf_counter()
    for _ in range(count):
        status, _body = call(handler, environ)
        if status[0] != "2":
            bad += 1
    elapsed = time.perf_counter() - started
    if bad:
        raise SystemExit(f"{bad} of {count} requests failed (last status {status})")
    return elapsed


def queries_per_request(handler, environ: dict, before=None) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if before is not None:
        before()
    call(handler, environ)  # settle the connection state, as between requests of a run
    with CaptureQueriesContext(connection) as ctx:
        call(handler, environ)
    return [q["sql"] for q in ctx.captured_queries]


def main() -> int:
    total = size(3000, 40, env="BENCH_REQUESTS")
    rounds = max(1, size(10, 2, env="BENCH_ROUNDS"))
    warmup = size(300, 10, env="BENCH_WARMUP")
    setup_django()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import connection
    from django.test import override_settings

    from tenants.services import create_district

    slug = bench_slug()
    try:
        with quiet_stdout():
            created = create_district(slug=slug, name_zh="基准区", name_en="Bench",
                                      modules=["registry", "codes", "notices"], use_pool=False)
            district = created.district
            host = district.primary_domain
            connection.set_schema_to_public()
            log(f"district {slug} at {host} ({'pool' if created.from_pool else 'migrations'}, "
                f"{created.seconds:.2f}s)")

            rest = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
            with override_settings(REST_FRAMEWORK=rest):
                from portal.api import DistrictView

                DistrictView.throttle_classes = []  # bound from api_settings when DRF was imported
                if DistrictView().get_throttles():
                    raise SystemExit("throttles are still on")

                if TENANT_MIDDLEWARE not in settings.MIDDLEWARE:
                    raise SystemExit(f"{TENANT_MIDDLEWARE} is not in MIDDLEWARE; nothing to compare")
                tenant_handler = WSGIHandler()
                bypass_stack = [f"{__name__}.PinnedDistrictMiddleware" if m == TENANT_MIDDLEWARE else m
                                for m in settings.MIDDLEWARE]
                with override_settings(MIDDLEWARE=bypass_stack):
                    bypass_handler = WSGIHandler()  # the middleware chain is built here, once

                PinnedDistrictMiddleware.district = district

                def pin():
                    connection.set_tenant(district)

                environ = make_environ(host)
                # Same answer on both paths, and it is this district's.
                _, body_a = call(tenant_handler, environ)
                pin()
                _, body_b = call(bypass_handler, environ)
                if body_a != body_b or slug.encode() not in body_a:
                    raise SystemExit(f"the two paths answer differently:\n{body_a!r}\n{body_b!r}")

                sql_a = queries_per_request(tenant_handler, environ)
                sql_b = queries_per_request(bypass_handler, environ, before=pin)
                log(f"queries per request: tenant {len(sql_a)}, bypass {len(sql_b)}")
                for sql in sql_a:
                    log(f"  tenant: {sql[:160]}")
                for sql in sql_b:
                    log(f"  bypass: {sql[:160]}")

                run(tenant_handler, environ, warmup)
                run(bypass_handler, environ, warmup, before=pin)

                per_round = max(1, total // rounds)
                time_a = time_b = 0.0
                for i in range(rounds):
                    if i % 2 == 0:
                        a = run(tenant_handler, environ, per_round)
                        b = run(bypass_handler, environ, per_round, before=pin)
                    else:
                        b = run(bypass_handler, environ, per_round, before=pin)
                        a = run(tenant_handler, environ, per_round)
                    time_a += a
                    time_b += b
                    log(f"round {i + 1}/{rounds}: tenant {per_round / a:,.0f} req/s, bypass {per_round / b:,.0f} req/s")
                done = per_round * rounds
    finally:
        with quiet_stdout():
            connection.set_schema_to_public()
            drop_district(slug=slug)
            log(f"dropped {slug}")

    rps_a = done / time_a
    rps_b = done / time_b
    overhead = (1 - rps_a / rps_b) * 100  # share of the bypass throughput lost to tenancy
    log(f"{done} requests per path; per request: tenant {time_a / done * 1e6:.0f} us, "
        f"bypass {time_b / done * 1e6:.0f} us, tenancy {(time_a - time_b) / done * 1e6:.0f} us")
    figure("tenant_overhead_rps_tenant", round(rps_a, 1), "req/s")
    figure("tenant_overhead_rps_bypass", round(rps_b, 1), "req/s")
    figure("tenant_overhead_percent", round(overhead, 1), "%", "< 10 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
