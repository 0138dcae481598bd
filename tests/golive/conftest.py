"""Helpers of the district-lifecycle tests: a district that is not live yet, and its people."""
from __future__ import annotations

import pytest
from django.db import connection

from tests.conftest import admin_of, client_for, make_user

MINE = ("admin_signed_in", "ledger_imported", "rlist_set", "codes_printed")


@pytest.fixture
def not_live(dongsheng):
    """Dongsheng (registry, codes, cases, ratings) before "go live" (rolled back after the test)."""
    connection.set_schema_to_public()
    dongsheng.live_at = None
    dongsheng.save(update_fields=["live_at"])  # drops the host cache too
    return dongsheng


@pytest.fixture
def only_my_checks(monkeypatch):
    """The set-up checks of this part only: others (billing) are tested where they are made."""
    from kernel import lifecycle_hooks

    monkeypatch.setattr(lifecycle_hooks, "_checks", {k: v for k, v in lifecycle_hooks._checks.items() if k in MINE})


def people(district):
    """(admin client, grid-worker client, resident client, anonymous client) on the district's host."""
    admin = client_for(district, admin_of(district))
    worker = client_for(district, make_user(district, "gl-worker", "grid_worker", "grid", "G0101"))
    resident = client_for(district, make_user(district, "gl-resident", "resident", phone="13700007777"))
    return admin, worker, resident, client_for(district)
