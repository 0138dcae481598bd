"""The rulebook: validation, versions (an entry keeps the version it was posted under), who edits,
and the Kangbashi template built from the reports."""
import pytest
from django.db import IntegrityError, transaction
from django.utils import translation
from django_tenants.utils import tenant_context

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.models import AuditEntry
from modules.points.ledger import rules as rulebook
from modules.points.ledger import selectors
from modules.points.ledger import services as ledger
from modules.points.ledger.templates_kangbashi import EXAMPLE_CODES, KANGBASHI_RULES, rules_for
from modules.points.models import Rule, RuleVersion
from tests.points.conftest import rule_fields

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("changes, field", [
    ({"min_points": 0}, "min_points"),
    ({"min_points": 5, "max_points": 3}, "max_points"),
    ({"default_points": 11}, "default_points"),
    ({"direction": "sideways"}, "direction"),
    ({"cap_count": 2}, "cap_period"),
    ({"cap_period": "week", "cap_count": 2}, "cap_period"),
    ({"effective_from": "2026-05-01", "effective_to": "2026-04-01"}, "effective_to"),
    ({"auto_source": "verified_report.offender"}, "direction"),
    ({"name_zh": ""}, "name_zh"),
    ({"kind": "gold"}, "kind"),
])
def test_a_rule_that_makes_no_sense_is_refused_with_the_field(in_district, changes, field):
    with pytest.raises(DomainError) as err:
        rulebook.create_rule(actor=in_district.admin, code="t_bad", **rule_fields(**changes))
    assert field in err.value.fields
    assert not Rule.objects.filter(code="t_bad").exists()


def test_the_database_refuses_an_impossible_range_too(in_district):
    rule = Rule.objects.create(code="t_raw")
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersion.objects.create(rule=rule, version=1, is_current=True, name_zh="x", direction="add",
                                   category="x", min_points=5, max_points=3, default_points=4)
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleVersion.objects.create(rule=rule, version=1, is_current=True, name_zh="x", direction="add",
                                   category="x", min_points=1, max_points=3, default_points=2, cap_count=1)


def test_only_the_administrator_edits_the_rulebook(in_district):
    w = in_district
    with pytest.raises(NotAllowed):
        rulebook.create_rule(actor=w.staff, code="t_staff", **rule_fields())
    with pytest.raises(NotAllowed):
        rulebook.revise_rule(actor=w.m1, rule="t_good", max_points=200)
    with pytest.raises(Conflict):
        rulebook.create_rule(actor=w.admin, code="t_good", **rule_fields())


def test_a_revision_is_a_new_version_and_old_entries_keep_theirs(in_district):
    w = in_district
    first = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=5, reason="扶老人过马路")
    v2 = rulebook.revise_rule(actor=w.admin, rule="t_good", max_points=20, note="上限调整")
    assert v2.version == 2 and v2.is_current and v2.max_points == 20
    assert RuleVersion.objects.filter(rule__code="t_good", is_current=True).count() == 1
    assert rulebook.revise_rule(actor=w.admin, rule="t_good", max_points=20) == v2  # nothing changed
    second = ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=5, reason="捡到钱包")
    first.refresh_from_db()
    assert first.rule_version.version == 1 and second.rule_version.version == 2
    with pytest.raises(DomainError) as err:
        ledger.post_entry(actor=w.staff, resident=w.r1, rule="t_good", points=50, reason="超出新上限")
    assert err.value.code == "out_of_range"
    audit = AuditEntry.objects.get(action="points.rule.revise", target_id=str(v2.rule_id))
    assert audit.before["max_points"] == 100 and audit.after["max_points"] == 20
    assert [v.version for v in selectors.rule_history("t_good")] == [2, 1]


def test_the_kangbashi_template_has_the_shape_of_the_reports():
    adds = [r for r in KANGBASHI_RULES if r["direction"] == "add"]
    deducts = [r for r in KANGBASHI_RULES if r["direction"] == "deduct"]
    assert (len(adds), len(deducts)) == (51, 33)  # seeds/004: 51 加分项, 33 减分项
    by_code = {r["code"]: r for r in KANGBASHI_RULES}
    assert len(by_code) == len(KANGBASHI_RULES)
    for code, low, high in [("heroic_act", 20, 50), ("good_deed", 2, 100), ("charity_donation", 1, 20),
                            ("drunk_driving", 50, 50), ("drill_participation", 5, 5), ("honest_family", 20, 20)]:
        rule = by_code[code]
        assert (rule["min_points"], rule["max_points"], rule["origin"]) == (low, high, "report"), code
        assert "分值出自报道" in rule["origin_note"]
    for code in ("honour_moral_model", "honour_most_beautiful", "honour_good_neighbour", "honour_civilised_family",
                 "volunteer_service", "blood_donation", "low_carbon_living"):
        assert by_code[code]["origin"] == "report" and "分值为示例" in by_code[code]["origin_note"], code
    assert by_code["drunk_driving"]["direction"] == "deduct"
    examples = [r for r in KANGBASHI_RULES if r["origin"] == "example"]
    assert examples and all(not r["origin_note"] for r in examples)
    # a rule for each side of a verified report
    autos = {r["auto_source"] for r in KANGBASHI_RULES}
    assert {"verified_report.reporter", "verified_report.offender", "verified_report.praised"} <= autos
    assert [r["code"] for r in rules_for("laixi")] == [c for c in by_code if c in EXAMPLE_CODES]


def test_every_template_rule_passes_the_rule_checks():
    for data in KANGBASHI_RULES:
        fields = {k: v for k, v in data.items() if k != "code"}
        rulebook._clean_rule(fields)


def test_seeding_copies_the_template_once(dongsheng):
    """Dongsheng has points off: its tables are empty until the module is turned on and seeded."""
    with tenant_context(dongsheng):
        assert not Rule.objects.exists()
        rulebook.seed(template="kangbashi", actor=None)
        assert RuleVersion.objects.filter(is_current=True, direction="add").count() == 51
        assert RuleVersion.objects.filter(is_current=True, direction="deduct").count() == 33
        heroic = ledger.current_version("heroic_act")
        assert heroic.origin == "report" and heroic.committee_required and heroic.evidence_required
        rulebook.seed(template="kangbashi", actor=None)  # a second run adds nothing
        assert Rule.objects.count() == 84
        assert AuditEntry.objects.filter(action="points.rules.seed").count() == 1


def test_other_districts_start_from_the_example_set(laixi):
    with tenant_context(laixi):
        codes = set(Rule.objects.values_list("code", flat=True))
        assert codes == set(EXAMPLE_CODES)
        notes = set(RuleVersion.objects.values_list("note", flat=True))
    assert notes == {"template default"}  # the rulebook it got, not the district's name
    with translation.override("zh-hans"):
        assert selectors.version_note("template default") == "复制自示例积分规则"
        assert selectors.version_note("template kangbashi") == "复制自康巴什积分规则"
        assert selectors.version_note("提高上限") == "提高上限"  # an editor's own note as written


def test_rules_in_force_follow_the_dates(in_district):
    w = in_district
    rulebook.revise_rule(actor=w.admin, rule="t_litter", effective_to="2020-12-31")
    assert "t_litter" not in {v.rule.code for v in selectors.rules_in_force()}
    assert "t_litter" in {v.rule.code for v in selectors.rules_in_force(include_all=True)}
