"""Automatic awards from verified reports (``cases.verified_report``): the reporter, the reported
household and the praised household, each under the rule the district's rulebook maps the case's
category to (``RuleVersion.auto_categories``; a streetlight report is not "uncivil behaviour reported").

A category no rule of a side names falls back as the district configures it
(``verified_report_unmapped``): to that side's general rule (the one naming no category), or to
nothing. Every award goes through ``committee.services.post_or_propose`` like staff's: the rule's
checks (sign, range, dates, caps), the committee when the rule needs it, and one key per case, side
and person, so a repeated event makes nothing new."""
from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from kernel import audit, idempotency
from kernel.errors import DomainError
from modules.points.committee.models import Proposal
from modules.points.committee.services import post_or_propose
from modules.points.ledger.models import AutoSource, ReportFact, RuleVersion, SourceKind
from modules.points.ledger.scores import refresh_scores_soon
from modules.points.ledger.services import Automatic, config, local_today
from modules.registry.models import Household, Membership, Resident

log = logging.getLogger(__name__)

UNMAPPED_GENERAL = "general_rule"  # verified_report_unmapped: the side's rule that names no category
UNMAPPED_NOTHING = "nothing"  # no points for a category no rule names


def auto_rule(source: str, category: str, *, unmapped: str | None = None) -> RuleVersion | None:
    """The rule in force for one side of a verified report: the one whose ``auto_categories`` name the
    case's category; for a category none names, the side's general rule (naming no category) or none,
    as ``unmapped`` (default: the district's ``verified_report_unmapped``) says."""
    candidates = list(RuleVersion.objects.select_related("rule").filter(is_current=True, auto_source=source)
                      .order_by("rule__code"))
    specific = [v for v in candidates if category and category in (v.auto_categories or [])]
    if specific:
        return specific[0]
    if (unmapped or config().get("verified_report_unmapped", UNMAPPED_GENERAL)) == UNMAPPED_NOTHING:
        return None
    return next((v for v in candidates if not v.auto_categories), None)


def _household_residents(household_id: int | None, *, heads_only: bool) -> list[int]:
    if not household_id:
        return []
    qs = Membership.objects.filter(household_id=household_id, ended_at__isnull=True)
    if heads_only:
        qs = qs.filter(relation=Membership.Relation.HEAD)
    return sorted(set(qs.values_list("resident_id", flat=True)))


def _plan(payload: dict, households: dict, heads_only: bool) -> list[tuple[str, int]]:
    """(side, resident id) pairs: the reporter, the members of the reported and of the praised household
    (never the reporter for their own home)."""
    reporter = None
    if payload.get("reporter_user_id"):
        reporter = Resident.objects.filter(user_id=payload["reporter_user_id"]).values_list("pk", flat=True).first()
    plan: list[tuple[str, int]] = [(AutoSource.REPORTER, reporter)] if reporter else []
    for source, key in ((AutoSource.OFFENDER, "offender_household_id"), (AutoSource.PRAISED, "praised_household_id")):
        plan += [(source, rid) for rid in _household_residents(households[key], heads_only=heads_only)
                 if rid != reporter]
    return plan


def _verified_reason(version: RuleVersion, ref: str) -> str:
    """What the resident reads on the posting: the rule and the case's reference (an event from before
    the reference was published names no case rather than its internal id)."""
    if ref:
        return _("%(rule)s (case %(case)s, verified)") % {"rule": version.name_zh, "case": ref}
    return _("%(rule)s (a report, verified)") % {"rule": version.name_zh}


def award_verified_report(*, payload: dict) -> dict:
    """``cases.verified_report``: the reporter +, the reported household's members −, the praised
    household's members +, under the rules the case's category maps to. Idempotent per case, side and
    person. Returns how many were posted, proposed (the rule needs the committee) and skipped (a rule
    check refused it: over the cap, not in force, material points off)."""
    case_id = int(payload["case_id"])
    ref = str(payload.get("ref") or "")  # the case's reference (KAN-20261207-0007); never its internal id
    category = str(payload.get("category") or "")
    cfg = config()
    day = local_today()
    done = {"posted": 0, "proposed": 0, "skipped": 0}
    with transaction.atomic():
        households = {k: payload.get(k) for k in ("reporter_household_id", "offender_household_id",
                                                  "praised_household_id")}
        known = set(Household.objects.filter(pk__in=[v for v in households.values() if v]).values_list("pk", flat=True))
        ReportFact.objects.get_or_create(case_id=case_id, defaults={
            "channel": str(payload.get("channel") or "")[:20], "category": category[:40],
            **{k: (v if v in known else None) for k, v in households.items()},
        })
        versions: dict[str, RuleVersion | None] = {}
        plan = _plan(payload, households, cfg.get("household_awards") == "head")
        residents = Resident.objects.in_bulk([rid for _source, rid in plan])
        for source, resident_id in plan:
            if source not in versions:
                versions[source] = auto_rule(source, category, unmapped=cfg.get("verified_report_unmapped"))
            version = versions[source]
            if version is None:
                continue
            automatic = Automatic(source_kind=SourceKind.CASE, source_id=case_id,
                                  key=f"case:{case_id}:{source.split('.')[-1]}:{resident_id}")
            try:
                with transaction.atomic():
                    made = post_or_propose(
                        actor=None, resident=residents[resident_id], rule=version, automatic=automatic,
                        points=version.default_points * version.sign, occurred_on=day, evidence=f"case:{case_id}",
                        reason=_verified_reason(version, ref))
            except DomainError as exc:  # a rule check refused it: nothing posted or proposed
                log.info("automatic points skipped", extra={"case": case_id, "code": exc.code})
                done["skipped"] += 1
                continue
            if idempotency.created(made):
                done["proposed" if isinstance(made, Proposal) else "posted"] += 1
        if done["posted"] or done["proposed"] or done["skipped"]:
            audit.record(actor=None, action="points.auto.verified_report", target_type="cases.case",
                         target_id=str(case_id), after=done)
        refresh_scores_soon()
    return done

