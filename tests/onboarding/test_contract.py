"""The onboarding API keeps its documented contract (tests/platform_tests/test_schemathesis.py's checks,
on the public host's document): no 5xx, documented status codes, content types and bodies, as a vendor
and as platform staff, with an application of each state that matters in place."""
from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from rest_framework.authtoken.models import Token

from onboarding import provisioning
from onboarding.services import approve_application, create_application
from tests.onboarding.conftest import application_data
from tests.platform_tests.test_schemathesis import CHECKS, wsgi_app  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["vendor", "ops"])
def caller(request, vendor, vendor_user, ops_user):
    create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="ct-draft"))
    submitted = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="ct-sub"),
                                   submit=True)
    done = create_application(actor=vendor_user, vendor=vendor, data=application_data(slug="ct-done"), submit=True)
    provisioning.provision(approve_application(actor=ops_user, application=done, reason="ok").pk)
    from django.db import connection

    connection.set_schema_to_public()
    user = vendor_user if request.param == "vendor" else ops_user
    token = Token.objects.get_or_create(user=user)[0].key
    return {"headers": {"Host": "localhost", "Accept-Language": "en", "Authorization": f"Bearer {token}"},
            "ids": [submitted.pk, done.pk]}


def test_the_onboarding_api_keeps_its_contract(caller, wsgi_app):  # noqa: F811
    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", wsgi_app, headers={"Host": "localhost"})
    document = copy.deepcopy(loaded.raw_schema)
    document["paths"] = {p: v for p, v in document["paths"].items() if p.startswith("/api/v1/onboarding/")}
    schema = schemathesis.openapi.from_dict(document)
    schema.app = wsgi_app
    failures, count = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        count += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def check(case):
            if case.path_parameters and "id" in case.path_parameters:
                case.path_parameters["id"] = caller["ids"][abs(hash(str(case.body))) % 2]
            case.call_and_validate(headers=caller["headers"], base_url="http://localhost", checks=CHECKS)

        try:
            check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported below
            failures.append(f"{operation.label}: {exc}")
    assert count >= 10
    assert not failures, f"{len(failures)} of {count} operations broke the contract:\n\n" + "\n\n".join(failures)
