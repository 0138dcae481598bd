"""Sample ids for the routes that need them, from the seeded demo district (test_zh_hans_pages.py).

``seed_samples(district)`` (inside the district) adds what the demo seed does not make (a print run,
an invitation) and returns the ids; ``SAMPLES[url name](samples)`` gives the kwargs to open that route
with, one dict per page to check. Models are found through the app registry, so a module that
moves its models into sub-packages keeps these working.
"""
from __future__ import annotations

from datetime import timedelta

from django.apps import apps
from django.utils import timezone


def _model(label: str):
    return apps.get_model(label)


def _first(label: str, **filters):
    return _model(label).objects.filter(**filters).order_by("pk").first()


def _invite_token() -> str:
    """An open invitation of a new administrator (the /invite/<token>/ page)."""
    from accounts.invitations import invite_admin

    return invite_admin(actor=None, username="invitee", display_name="新管理员")[1].rstrip("/").rsplit("/", 1)[-1]


def _rating_by(user, code):
    """A bad rating the resident gave an official (the /ratings/mine/<pk>/ page, with its follow-up card)."""
    if code is None:
        return None
    from kernel.errors import DomainError
    from modules.ratings.ledger.services import submit_rating

    try:
        return submit_rating(actor=user, official=code.official, level=2, comment="办事拖拉")
    except DomainError:  # the resident may not rate here (not bound, or the official's own account)
        return None


def _held_rating():
    """A rating held for review (ratings:held-detail; the demo holds none)."""
    found = _first("ratings.Rating", state="held")
    official = _first("registry.Official")
    if found is not None or official is None:
        return found
    return _model("ratings.Rating").objects.create(
        subject_kind="official", official=official, department=official.department, channel="official_code",
        level=2, rater_key="p:i18n-sample", period_key=timezone.localdate().strftime("%Y-%m"), state="held",
        hold_reasons=[{"rule": "burst", "detail": "", "numbers": {"before": 30, "minutes": 60, "limit": 30}}],
        created_at=timezone.now())


def seed_samples(district) -> dict:
    from django.contrib.auth import get_user_model

    from modules.codes import services as codes
    from modules.points.benefits.selectors import issue_token

    User = get_user_model()
    admin, resident_user = User.objects.get(username="admin"), User.objects.get(username="resident")
    resident = _first("registry.Resident", user=resident_user)
    household = resident.memberships.filter(ended_at__isnull=True).first().household
    community = household.building.compound.community
    run = codes.create_print_run(actor=admin, scope_kind="community", scope_code=community.code,
                                 kinds=["household", "outdoor"])
    Code = _model("codes.Code")
    s = {
        "codes": {kind: Code.objects.filter(kind=kind, status="active").order_by("pk").first()
                  for kind in ("household", "outdoor", "merchant", "official", "stall")},
        "merchant_code": Code.objects.filter(merchant__owner__username="merchant", status="active").first(),
        "my_household_code": Code.objects.filter(household=household, kind="household", status="active").first(),
        "print_run": run,
        "binding": _first("codes.BindingRequest"),
        "cases": list(_model("cases.Case").objects.order_by("pk")[:1]) + list(
            _model("cases.Case").objects.filter(reporter=resident_user).order_by("pk")[:1]),
        "attachment": _first("cases.Attachment"),
        "rlist": _first("cases.ResponsibilityList"),
        "holiday": _first("cases.Holiday"),
        "entry": _first("points.Entry", resident=resident),
        "proposal": _first("points.Proposal"),
        "batch": _first("points.Batch"),
        "rule": _first("points.Rule"),
        "verify_token": issue_token(resident),
        "invite_token": _invite_token(),
        "provider": _first("points.Provider"),
        "notice": _first("notices.Notice"),
        "ledger_job": _first("registry.ImportJob"),
        "finding": _first("registry.Finding"),
        "audit_entry": _first("kernel.AuditEntry"),
        "modules": list(district.modules),
        "held_rating": _held_rating(),
        "membership": household.memberships.filter(ended_at__isnull=True).exclude(resident=resident).first(),
    }
    # An open invitation to the resident's household and a checked ledger upload (neither is in the demo).
    s["invite"] = _model("codes.HouseholdInvite").objects.create(
        household=household, created_by=admin, expires_at=timezone.now() + timedelta(days=1))
    s["ledger_job"] = s["ledger_job"] or _model("registry.ImportJob").objects.create(
        original_name="台账.xlsx", file_format="xlsx", file_sha256="0" * 64, created_by=admin, status="done",
        columns=["姓名", "身份证号"], total_rows=2, valid_count=1, rejected_count=1)
    s["rating"] = _rating_by(resident_user, s["codes"]["official"])
    merchant = _first("registry.Merchant")  # a star merchant's certificate (ratings.reports)
    s["star_award"] = _model("ratings.StarAward").objects.get_or_create(
        merchant=merchant, year=timezone.localdate().year - 1, defaults=dict(
            stars=5, ratings=40, average=4.95, bad_share=0, awarded_at=timezone.now(),
            rules={"min_ratings": 30, "min_average": 4.5, "max_bad_share": 0.05, "five_star_average": 4.9}))[0] \
        if merchant else None
    return s


def _pk(key: str, kwarg: str = "pk"):
    return lambda s: [{kwarg: s[key].pk}] if s.get(key) is not None else []


SAMPLES = {
    "code-scan": lambda s: [{"token": c.token} for c in s["codes"].values() if c],
    "codes:bind": lambda s: [{"token": s["my_household_code"].token}],
    "codes:invite": lambda s: [{"token": s["my_household_code"].token}],
    "codes:remove-member": lambda s: ([{"token": s["my_household_code"].token, "membership": s["membership"].pk}]
                                      if s["membership"] else []),
    "codes:join": lambda s: [{"invite": s["invite"].token}] if s.get("invite") else [],
    "codes:decide": _pk("binding"),
    "codes:code": lambda s: [{"token": c.token} for c in s["codes"].values() if c],
    "codes:print-run": _pk("print_run"),
    "codes:print-run-file": lambda s: [{"pk": s["print_run"].pk, "part": "pdf"}],
    "cases:code-report": lambda s: [{"token": s["codes"]["outdoor"].token}],
    "cases:code-praise": lambda s: [{"token": s["codes"]["outdoor"].token}],
    "cases:code-contact": lambda s: [{"token": s["codes"]["outdoor"].token}],
    "cases:code-request": lambda s: [{"token": s["merchant_code"].token}] if s["merchant_code"] else [],
    "cases:settings-rlist-version": lambda s: [{"version": s["rlist"].version}] if s["rlist"] else [],
    "cases:settings-holidays-xlsx": lambda s: [{"year": s["holiday"].date.year if s["holiday"] else 2026}],
    "cases:detail": lambda s: [{"key": c.ref} for c in s["cases"]],
    "cases:file": lambda s: ([{"key": s["attachment"].case.ref, "attachment": s["attachment"].pk}]
                             if s["attachment"] else []),
    "points:appeal": _pk("entry", "entry_id"),
    "points:staff-evidence": lambda s: [{"kind": "proposal", "pk": s["proposal"].pk}] if s["proposal"] else [],
    "points:staff-batch": _pk("batch"),
    "points:staff-batch-progress": _pk("batch"),
    "points:staff-batch-report": _pk("batch"),
    "points:staff-rule": lambda s: [{"code": s["rule"].code}] if s["rule"] else [],
    "points:verify": lambda s: [{"token": s["verify_token"]}],
    "points:provider": _pk("provider"),
    "notices:detail": _pk("notice"),
    "registry:ledger-job": _pk("ledger_job"),
    "registry:ledger-rejected": _pk("ledger_job"),
    "registry:finding-resolve": _pk("finding"),
    "portal:settings-config": lambda s: [{"key": key} for key in s["modules"]],
    "portal:settings-module-off": lambda s: [{"key": key} for key in s["modules"] if key != "registry"],
    "portal:settings-audit-entry": _pk("audit_entry"),
    "accounts:invite": lambda s: [{"token": s["invite_token"]}],
    "ratings:rate": lambda s: [{"token": s["codes"][kind].token} for kind in ("official", "merchant", "stall")
                               if s["codes"][kind]],
    "ratings:rated": _pk("rating"),
    "ratings:held-detail": _pk("held_rating"),
    "ratings:certificate": lambda s: [{"token": s["star_award"].token}] if s.get("star_award") else [],
}
