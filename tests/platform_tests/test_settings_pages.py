"""The district admin's settings pages: the configuration form from each module's schema, users with no
role by default and scopes from the place tree, the module-off confirmation, the audit log."""
from __future__ import annotations

import dataclasses

import pytest
from django.contrib.auth import get_user_model
from django_tenants.utils import tenant_context

from kernel.models import AuditEntry, ModuleConfig, RoleAssignment
from kernel.selectors import module_config
from modules.catalog import catalog
from modules.spec import ModuleSpec
from tests.conftest import admin_of, client_for, make_user

pytestmark = pytest.mark.django_db


def zh(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    return client


@pytest.fixture
def admin_zh(kangbashi):
    return zh(client_for(kangbashi, admin_of(kangbashi)))


def _cases_form(**changes) -> dict:
    form = {"mode": "form", "note": "form", "cfg.response_hours": "12", "cfg.resolution_days": "4",
            "cfg.grab_cap_per_worker": "6", "cfg.auto_close_days": "7", "cfg.max_video_mb": "30",
            "cfg.reopen_days": "7", "cfg.escalation_step_hours": "24", "cfg.ref_prefix": "KBS"}
    # anonymous_reports is left unticked: an unticked box is false
    form.update(changes)
    return form


# --- configuration ---------------------------------------------------------------------------------------

def _titles_missing(schema: dict, path: str = "") -> list[str]:
    missing = []
    for key, sub in schema.get("properties", {}).items():
        if not sub.get("title"):
            missing.append(path + key)
        missing += _titles_missing(sub, f"{path}{key}.")
        missing += _titles_missing(sub.get("items") or {}, f"{path}{key}[].")
    return missing


def test_every_setting_of_every_module_has_a_chinese_title():
    missing = {spec.key: _titles_missing(spec.config_schema) for spec in catalog}
    assert {k: v for k, v in missing.items() if v} == {}
    for spec in catalog:
        for key, sub in spec.config_schema.get("properties", {}).items():
            if "enum" in sub and isinstance(sub["enum"][0], str):
                assert set(sub.get("enum_titles", {})) == set(sub["enum"]), (spec.key, key)


def test_the_form_shows_chinese_labels_and_saves_a_valid_configuration(admin_zh, kangbashi):
    page = admin_zh.get("/manage/config/cases/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "每位网格员最多同时在办（件）" in html and 'name="cfg.grab_cap_per_worker"' in html
    assert "Default time to respond" not in html  # the English words are for English pages
    assert "KBS" not in html.split('data-field="ref_prefix"')[1].split('class="help" data-testid="examples"')[0]
    assert 'data-testid="examples">例如： <code>KBS</code>' in html  # an example is a value, not a word

    response = admin_zh.post("/manage/config/cases/", _cases_form())
    assert response.status_code == 302
    with tenant_context(kangbashi):
        saved = module_config("cases")
        assert saved["grab_cap_per_worker"] == 6 and saved["response_hours"] == 12
        assert saved["anonymous_reports"] is False and saved["ref_prefix"] == "KBS"
        assert ModuleConfig.objects.get(module_key="cases").note == "form"
        assert AuditEntry.objects.filter(action="module_config.update").count() == 1


def test_the_tiers_table_keeps_filled_rows_and_drops_blank_ones(admin_zh, kangbashi):
    form = {"mode": "form", "cfg.committee_quorum": "3", "cfg.appeal_days": "30", "cfg.household_awards": "head",
            "cfg.compound_score.window_days": "90", "cfg.compound_score.praise_weight": "1.5",
            "cfg.compound_score.report_weight": "1", "cfg.compound_score.offence_weight": "3",
            "cfg.tiers.rows": "3",
            "cfg.tiers.0.key": "bronze", "cfg.tiers.0.name_zh": "铜牌", "cfg.tiers.0.min_points": "100",
            "cfg.tiers.1.key": "", "cfg.tiers.1.name_zh": "", "cfg.tiers.1.min_points": "",
            "cfg.tiers.2.key": "gold", "cfg.tiers.2.name_zh": "金牌", "cfg.tiers.2.name_en": "Gold",
            "cfg.tiers.2.min_points": "600"}
    assert admin_zh.post("/manage/config/points/", form).status_code == 302
    with tenant_context(kangbashi):
        saved = module_config("points")
    assert saved["tiers"] == [{"key": "bronze", "name_zh": "铜牌", "min_points": 100},
                              {"key": "gold", "name_zh": "金牌", "name_en": "Gold", "min_points": 600}]
    assert saved["household_awards"] == "head" and saved["compound_score"]["praise_weight"] == 1.5
    assert saved["material_points"] is False


def test_an_invalid_value_is_refused_at_its_field_in_chinese_and_nothing_is_saved(admin_zh, kangbashi):
    response = admin_zh.post("/manage/config/cases/", _cases_form(**{"cfg.grab_cap_per_worker": "0",
                                                                     "cfg.response_hours": "many"}))
    assert response.status_code == 400
    html = response.content.decode()
    field = html.split('data-field="grab_cap_per_worker"')[1].split("</div>")[0]
    assert "不能小于 1" in field
    assert 'value="0"' in field  # what the admin typed is still there
    hours = html.split('data-field="response_hours"')[1].split("</div>")[0]
    assert "必须是整数" in hours
    assert "每位网格员最多同时在办（件）" in html.split('data-testid="config-errors"')[1]
    table = admin_zh.post("/manage/config/points/", {"mode": "form", "cfg.tiers.rows": "1",
                                                     "cfg.tiers.0.key": "Bad Key", "cfg.tiers.0.min_points": "-1"})
    assert table.status_code == 400
    cell = table.content.decode().split('data-field="tiers.0.min_points"')[1].split("</td>")[0]
    assert "不能小于 0" in cell
    with tenant_context(kangbashi):
        assert not ModuleConfig.objects.filter(module_key__in=["cases", "points"]).exists()
        assert not AuditEntry.objects.filter(action="module_config.update").exists()


def test_broken_json_says_where_in_chinese_and_saves_nothing(admin_zh, kangbashi):
    response = admin_zh.post("/manage/config/cases/", {"mode": "json", "data": '{\n  "grab_cap_per_worker": 5\n  "x": 1\n}'})
    assert response.status_code == 400
    html = response.content.decode()
    assert "JSON 格式有误：第 3 行第 3 列：缺少逗号。" in html
    assert "Expecting" not in html
    good = admin_zh.post("/manage/config/notices/", {"mode": "json", "data": '{"categories": ["policy"], "max_pinned": 2}'})
    assert good.status_code == 302
    with tenant_context(kangbashi):
        assert not ModuleConfig.objects.filter(module_key="cases").exists()
        assert module_config("notices")["max_pinned"] == 2


# --- users and roles -------------------------------------------------------------------------------------

@pytest.fixture
def places(kangbashi):
    from modules.registry.services import create_community, create_grid, create_street

    with tenant_context(kangbashi):
        street = create_street(actor=None, code="S01", name="青春路街道")
        community = create_community(actor=None, code="C01", name="书香社区", street=street)
        create_grid(actor=None, code="G0101", name="第一网格", community=community)


def test_a_new_user_gets_no_role_unless_one_is_chosen(admin_zh, kangbashi, places):
    page = admin_zh.get("/manage/users/").content.decode()
    role_select = page.split('data-testid="role-select"')[1].split("</select>")[0]
    first_option = role_select.split("<option")[1]
    assert 'value=""' in first_option and "selected" not in role_select
    assert "第一网格" in page.split('data-testid="scope-select"')[1].split("</select>")[0]

    assert admin_zh.post("/manage/users/", {"action": "add", "username": "newbie", "password": "long-enough-1",
                                            "role": "", "scope": "district"}).status_code == 302
    with tenant_context(kangbashi):
        user = get_user_model().objects.get(username="newbie")
        assert not RoleAssignment.objects.filter(user=user).exists()
        assert not user.is_staff and not user.is_superuser
    listed = admin_zh.get("/manage/users/").content.decode()
    assert 'data-user="newbie"' in listed


def test_a_role_scope_must_be_a_place_of_the_district(admin_zh, kangbashi, places):
    bad = admin_zh.post("/manage/users/", {"action": "add", "username": "gw9", "password": "long-enough-1",
                                           "role": "grid_worker", "scope": "grid:G9999"})
    assert bad.status_code == 400
    with tenant_context(kangbashi):
        assert not get_user_model().objects.filter(username="gw9").exists()  # user and role together or neither
    ok = admin_zh.post("/manage/users/", {"action": "add", "username": "gw1", "password": "long-enough-1",
                                          "role": "grid_worker", "scope": "grid:G0101"})
    assert ok.status_code == 302
    with tenant_context(kangbashi):
        user = get_user_model().objects.get(username="gw1")
        assert list(RoleAssignment.objects.filter(user=user).values_list("role", "scope_kind", "scope_code")) == [
            ("grid_worker", "grid", "G0101")]
        pk = user.pk
    again = admin_zh.post("/manage/users/", {"action": "grant", "user": pk, "role": "community_staff",
                                             "scope": "community:C99"})
    assert again.status_code == 400
    assert admin_zh.post("/manage/users/", {"action": "grant", "user": pk, "role": "community_staff",
                                            "scope": "community:C01"}).status_code == 302
    row = admin_zh.get("/manage/users/").content.decode().split('data-user="gw1"')[1].split("</tr>")[0]
    assert "专职网格员" in row or "grid worker" in row.lower()
    assert "第一网格" in row and "书香社区" in row  # every role the user holds, with the place's name
    assert "<code>G0101</code>" in row and "(G0101)" not in row  # the place's code beside it, as an identifier


# --- turning a module off --------------------------------------------------------------------------------

def test_turning_a_module_off_asks_first_and_keeps_its_data(admin_zh, kangbashi):
    from modules.notices.models import Notice

    with tenant_context(kangbashi):
        notices = Notice.objects.count()
    listing = admin_zh.get("/manage/").content.decode()
    assert "/manage/modules/notices/off/" in listing
    direct = admin_zh.post("/manage/", {"key": "notices", "on": "0"})  # the old one-click form
    assert direct.status_code == 302 and direct["Location"].endswith("/manage/modules/notices/off/")
    kangbashi.refresh_from_db()
    assert "notices" in kangbashi.modules

    page = admin_zh.get("/manage/modules/notices/off/").content.decode()
    assert "/notices/" in page and "/api/v1/notices/" in page
    assert "政策宣传" in page  # the menu entry that goes
    assert 'data-testid="data-kept"' in page
    response = admin_zh.post("/manage/modules/notices/off/")
    assert response.status_code == 302
    kangbashi.refresh_from_db()
    assert "notices" not in kangbashi.modules
    with tenant_context(kangbashi):
        assert Notice.objects.count() == notices


@pytest.fixture
def needs_notices(monkeypatch):
    """A module that depends on notices (none of the shipped ones does)."""
    spec = dataclasses.replace(ModuleSpec(key="digest", name_zh="周报", name_en="Digest"), depends=("notices",))
    monkeypatch.setitem(catalog.specs, "digest", spec)
    return spec


def test_the_modules_that_need_it_are_named_and_turned_off_with_it(admin_zh, kangbashi, needs_notices):
    from tenants.services import enable_module

    enable_module(actor=None, district=kangbashi, key="digest")
    page = admin_zh.get("/manage/modules/notices/off/").content.decode()
    assert "周报" in page.split('data-testid="dependents"')[1]
    refused = admin_zh.post("/manage/modules/notices/off/")  # the page said digest goes too; this post did not
    assert refused.status_code == 302
    kangbashi.refresh_from_db()
    assert {"notices", "digest"} <= set(kangbashi.modules)
    assert admin_zh.post("/manage/modules/notices/off/", {"also": ["digest"]}).status_code == 302
    kangbashi.refresh_from_db()
    assert not {"notices", "digest"} & set(kangbashi.modules)


def test_always_on_modules_have_no_off_page(admin_zh, kangbashi):
    assert admin_zh.post("/manage/modules/registry/off/").status_code == 302
    kangbashi.refresh_from_db()
    assert "registry" in kangbashi.modules or catalog["registry"].always_on


# --- audit log -------------------------------------------------------------------------------------------

def test_the_audit_log_has_names_filters_and_a_detail_with_before_and_after(admin_zh, kangbashi):
    other = make_user(kangbashi, "clerk")
    assert admin_zh.post("/manage/config/cases/", _cases_form()).status_code == 302
    page = admin_zh.get("/manage/audit/").content.decode()
    assert "修改模块配置" in page and "新建用户" in page
    only = admin_zh.get("/manage/audit/", {"action": "module_config.update"}).content.decode()
    assert only.count('data-action="module_config.update"') == 1 and 'data-action="user.create"' not in only
    with tenant_context(kangbashi):
        admin = admin_of(kangbashi)
        entry = AuditEntry.objects.get(action="module_config.update")
    mine = admin_zh.get("/manage/audit/", {"actor": admin.pk}).content.decode()
    assert 'data-action="module_config.update"' in mine
    assert other.pk != admin.pk
    future = admin_zh.get("/manage/audit/", {"since": "2999-01-01"}).content.decode()
    assert 'data-action=' not in future.split('data-testid="audit-table"')[1]
    detail = admin_zh.get(f"/manage/audit/{entry.pk}/").content.decode()
    changed = detail.split('data-testid="audit-changes"')[1]
    row = changed.split("grab_cap_per_worker")[1].split("</tr>")[0]
    assert ">5<" in row and ">6<" in row  # before and after


def test_the_audit_log_names_targets_and_says_yes_or_no_in_chinese(admin_zh, kangbashi):
    make_user(kangbashi, "clerk4")
    with tenant_context(kangbashi):
        entry = AuditEntry.objects.filter(action="user.create").latest("pk")
    row = admin_zh.get("/manage/audit/", {"action": "user.create"}).content.decode().split(
        'data-action="user.create"')[1].split("</tr>")[0]
    assert "用户" in row and "accounts.user" not in row
    detail = admin_zh.get(f"/manage/audit/{entry.pk}/").content.decode().split('data-testid="audit-changes"')[1]
    staff = detail.split("<code>is_staff</code>")[1].split("</tr>")[0]
    assert ">否<" in staff and "false" not in staff
    assert '<pre class="code" translate="no">clerk4</pre>' in detail  # a recorded value is data, as stored


def test_every_model_an_audit_entry_can_name_has_a_chinese_name():
    import re

    from django.apps import apps
    from django.utils import translation

    from kernel.audit_names import target_label

    with translation.override("zh-hans"):
        names = {m._meta.label_lower: target_label(m._meta.label_lower) for m in apps.get_models()}
        assert names["accounts.user"] == "用户" and names["points.benefituse"] == "权益核销"
        assert {label: name for label, name in names.items() if re.search("[A-Za-z]{3}", name)} == {}
    assert target_label("no.such_model") == "no.such_model"
    with translation.override("en"):
        assert target_label("points.benefituse") == "benefit use"


def test_every_recorded_audit_action_has_a_readable_name():
    """Each ``audit.record(action="…")`` in the code has a zh/en name (ModuleSpec.audit_actions, or
    kernel.audit_names for the platform's own): the log never shows a bare code to the admin."""
    import re
    from pathlib import Path

    from kernel.audit_names import all_actions

    root = Path(__file__).resolve().parents[2]
    found: dict[str, str] = {}
    for folder in ("modules", "platform", "tenants"):
        for path in (root / folder).rglob("*.py"):
            for code in re.findall(r'\baction="([a-z_]+\.[a-z_.]+)"', path.read_text(encoding="utf-8")):
                found.setdefault(code, str(path.relative_to(root)))
    names = all_actions()
    assert len(found) > 50
    assert {code: where for code, where in found.items() if code not in names} == {}
    assert all(zh and en and zh != en for zh, en in names.values())


def test_the_audit_api_gives_the_readable_name_too(kangbashi):
    make_user(kangbashi, "clerk2")
    client = client_for(kangbashi, admin_of(kangbashi))
    rows = client.get("/api/v1/settings/audit/", {"action": "user.create"}).json()["results"]
    assert rows and rows[0]["action_name"] == "User created"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    assert client.get("/api/v1/settings/audit/", {"action": "user.create"}).json()["results"][0]["action_name"] == "新建用户"
