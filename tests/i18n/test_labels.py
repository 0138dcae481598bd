"""Values shown by name, to the right people: a notice's category, how many residents a notice was
sent to (for those who publish, not for the residents who read it), the kinds of codes of a print run."""
from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation
from django_tenants.utils import tenant_context

from tests.conftest import admin_of, client_for, make_user

pytestmark = pytest.mark.django_db


def _publish(district, category: str, labels: dict | None = None):
    from kernel.selectors import module_config
    from kernel.services import update_module_config
    from modules.notices import services
    from modules.notices.models import Notice

    admin = admin_of(district)
    with tenant_context(district):
        config = dict(module_config("notices"))
        if category not in config["categories"] or labels:
            update_module_config(actor=admin, module_key="notices", data={
                **config, "categories": [*config["categories"], category], "category_labels": labels or {}})
        notice = services.publish_notice(actor=admin, title="垃圾分类新规", body="自下月起执行。", category=category)
        Notice.objects.filter(pk=notice.pk).update(audience_size=12)  # what the outbox handler records
    connection.set_schema_to_public()
    return notice


def _forget_config(district):
    from kernel.selectors import forget_module_config

    with tenant_context(district):
        forget_module_config("notices")  # the cache outlives the test's transaction
    connection.set_schema_to_public()


def test_residents_read_the_category_by_name_and_not_the_audience(kangbashi):
    notice = _publish(kangbashi, "policy")
    resident = make_user(kangbashi, "label-reader")
    for client in (client_for(kangbashi), client_for(kangbashi, resident)):
        listed = client.get("/notices/").content.decode()
        page = client.get(f"/notices/{notice.pk}/").content.decode()
        assert '<span class="tag">政策</span>' in listed and '<span class="tag">政策</span>' in page
        assert "policy" not in page and "已发送给" not in page
    staff = client_for(kangbashi, admin_of(kangbashi)).get(f"/notices/{notice.pk}/").content.decode()
    assert "已发送给 12 位居民" in staff  # the publisher sees the reach of what they published


def test_a_districts_own_category_reads_as_the_district_named_it(kangbashi):
    try:
        notice = _publish(kangbashi, "volunteer", labels={"volunteer": "志愿服务", "news": "社区新闻"})
        page = client_for(kangbashi).get(f"/notices/{notice.pk}/").content.decode()
        assert '<span class="tag">志愿服务</span>' in page and "volunteer" not in page
        with tenant_context(kangbashi):
            from modules.notices.labels import category_label

            assert category_label("news") == "社区新闻" and category_label("unknown_key") == "unknown_key"
    finally:
        _forget_config(kangbashi)


def test_a_print_run_names_its_kinds():
    from modules.codes.models import PrintRun

    run = PrintRun(kinds=["household", "outdoor", "stall"])
    with translation.override("zh-hans"):
        assert run.kinds_display == "户内码、户外码、流动摊位码"
    with translation.override("en"):
        assert run.kinds_display == "household code, outdoor code, stall code"
