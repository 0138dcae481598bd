"""Automatic awards from verified reports (``cases.verified_report``): the reporter, the reported
household and the praised household, each under the rule the district's rulebook maps the case's
category to."""
from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import DomainError
from modules.points.committee.models import Proposal
from modules.points.ledger.models import AutoSource, ReportFact, RuleVersion, SourceKind
from modules.points.ledger.services import _post, config, local_today, notify_after_commit
from modules.registry.models import Household, Membership, Resident

log = logging.getLogger(__name__)


# --- automatic postings: verified reports ------------------------------------------------------------

def auto_rule(source: str, category: str) -> RuleVersion | None:
    """The current rule for an automatic source: one naming the case category wins over a general one."""
    candidates = list(RuleVersion.objects.select_related("rule").filter(is_current=True, auto_source=source)
                      .order_by("rule__code"))
    specific = [v for v in candidates if category and category in (v.auto_categories or [])]
    general = [v for v in candidates if not v.auto_categories]
    chosen = (specific or general or [None])[0]
    return chosen


def _household_residents(household_id: int | None, *, heads_only: bool) -> list[int]:
    if not household_id:
        return []
    qs = Membership.objects.filter(household_id=household_id, ended_at__isnull=True)
    if heads_only:
        qs = qs.filter(relation=Membership.Relation.HEAD)
    return sorted(set(qs.values_list("resident_id", flat=True)))


def award_verified_report(*, payload: dict) -> dict:
    """``cases.verified_report``: the reporter +, the reported household's members −, the praised
    household's members +, under the rules marked for it. Idempotent per case and person."""
    case_id = int(payload["case_id"])
    category = str(payload.get("category") or "")
    cfg = config()
    heads_only = cfg.get("household_awards") == "head"
    day = local_today()
    done = {"posted": 0, "proposed": 0, "skipped": 0}
    with transaction.atomic():
        households = {k: payload.get(k) for k in ("reporter_household_id", "offender_household_id",
                                                  "praised_household_id")}
        known = set(Household.objects.filter(pk__in=[v for v in households.values() if v]).values_list("pk", flat=True))
        ReportFact.objects.get_or_create(case_id=case_id, defaults={
            "channel": str(payload.get("channel") or "")[:20], "category": category[:40],
            "reporter_household_id": households["reporter_household_id"] if households["reporter_household_id"] in known else None,
            "offender_household_id": households["offender_household_id"] if households["offender_household_id"] in known else None,
            "praised_household_id": households["praised_household_id"] if households["praised_household_id"] in known else None,
        })
        reporter = None
        if payload.get("reporter_user_id"):
            reporter = Resident.objects.filter(user_id=payload["reporter_user_id"]).values_list("pk", flat=True).first()
        plan: list[tuple[str, int]] = []
        if reporter:
            plan.append((AutoSource.REPORTER, reporter))
        for rid in _household_residents(households["offender_household_id"], heads_only=heads_only):
            if rid != reporter:
                plan.append((AutoSource.OFFENDER, rid))
        for rid in _household_residents(households["praised_household_id"], heads_only=heads_only):
            if rid != reporter:
                plan.append((AutoSource.PRAISED, rid))
        entry_ids = []
        versions: dict[str, RuleVersion | None] = {}
        for source, resident_id in plan:
            if source not in versions:
                versions[source] = auto_rule(source, category)
            version = versions[source]
            if version is None:
                continue
            role = source.split(".")[-1]
            key = f"case:{case_id}:{role}:{resident_id}"
            points = version.default_points * version.sign
            reason = _("%(rule)s (verified report %(case)s)") % {"rule": version.name_zh, "case": case_id}
            if version.committee_required:
                if not Proposal.objects.filter(idempotency_key=key).exists():
                    proposal = Proposal.objects.create(
                        kind=Proposal.Kind.SINGLE, rule_id=version.rule_id, rule_version=version,
                        resident_id=resident_id, points=points, occurred_on=day, reason=reason,
                        evidence=f"case:{case_id}", source_kind=SourceKind.CASE, source_id=case_id,
                        quorum=int(cfg["committee_quorum"]), idempotency_key=key)
                    audit.record(actor=None, action="points.propose", target=proposal,
                                 after={"resident": resident_id, "rule": version.rule.code, "case": case_id})
                    done["proposed"] += 1
                continue
            try:
                with transaction.atomic():
                    entry, created = _post(resident_id=resident_id, version=version, points=points, reason=reason,
                                           occurred_on=day, evidence=f"case:{case_id}", source_kind=SourceKind.CASE,
                                           source_id=case_id, key=key)
            except DomainError as exc:  # over the cap, rule not in force, material points off: nothing posted
                log.info("automatic points skipped", extra={"case": case_id, "code": exc.code})
                done["skipped"] += 1
                continue
            if created:
                entry_ids.append(entry.pk)
                done["posted"] += 1
        if done["posted"] or done["proposed"] or done["skipped"]:
            audit.record(actor=None, action="points.auto.verified_report", target_type="cases.case",
                         target_id=str(case_id), after=done)
        notify_after_commit(entry_ids)
    return done
