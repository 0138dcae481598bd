"""Tell the new owner of an escalated case (the sweep moves overdue cases one level up).

One SMS per person per sweep, through the pluggable sender (kernel.sms), naming how many cases came
to them and the first references; the cases are on their work bench (/cases/pool/). The outbox runs
this handler once per event; a sender that fails for one person does not stop the others."""
from __future__ import annotations

import logging
from collections import defaultdict

from kernel.events import handles
from kernel.models import RoleAssignment
from kernel.personal import decrypt
from kernel.roles import Role, ScopeKind
from kernel.sms import get_sender
from modules.cases.models import Case, OwnerLevel, UnitKind
from modules.cases.selectors import DEPARTMENT_ROLES

log = logging.getLogger(__name__)
SHOWN_REFS = 3


def owners_of(case: Case) -> list:
    """Who owns ``case`` at its current level: community staff of its community, staff over its street,
    the responsible department, or the district administrators (district supervision)."""
    level = case.owner_level
    if level == OwnerLevel.COMMUNITY and case.community_id:
        wanted = [(Role.COMMUNITY_STAFF, ScopeKind.COMMUNITY, case.community.code)]
    elif level == OwnerLevel.STREET and (case.street_id or case.community_id):
        street = case.street.code if case.street_id else case.community.street.code
        wanted = [(Role.COMMUNITY_STAFF, ScopeKind.STREET, street)]
    elif level == OwnerLevel.DEPARTMENT and case.responsible_kind == UnitKind.DEPARTMENT:
        wanted = [(role, ScopeKind.DEPARTMENT, case.responsible_code) for role in DEPARTMENT_ROLES]
    else:
        wanted = []
    users = []
    for role, kind, code in wanted:
        users += [a.user for a in RoleAssignment.objects.filter(role=role, scope_kind=kind, scope_code=code)
                  .select_related("user")]
    if not users:  # nobody at that level: district supervision hears of it
        users = [a.user for a in RoleAssignment.objects.filter(role=Role.DISTRICT_ADMIN).select_related("user")]
    return [u for u in dict.fromkeys(users) if u.is_active]


def notify_escalated(case_ids: list[int]) -> int:
    """Send each new owner one message about the cases escalated to them. Returns messages sent."""
    cases = Case.objects.filter(pk__in=case_ids).select_related("community__street", "street")
    per_user: dict = defaultdict(list)
    for case in cases:
        for user in owners_of(case):
            per_user[user].append(case.ref)
    sender, sent = get_sender(), 0
    for user, refs in per_user.items():
        if not user.phone_encrypted:
            continue
        shown = "、".join(sorted(refs)[:SHOWN_REFS]) + ("等" if len(refs) > SHOWN_REFS else "")
        text = f"【码上解决】{len(refs)} 件超期工单已升级由您督办：{shown}。请登录工作台处理。"
        try:
            sender.send(phone=decrypt(user.phone_encrypted), text=text)
            sent += 1
        except Exception:  # one unreachable phone must not stop the others
            log.exception("escalation SMS not sent", extra={"user": user.pk})
    return sent


@handles("cases.escalated", module="cases", name="cases.notify_escalated")
def on_escalated(payload, event):
    notify_escalated([row["case_id"] for row in payload["cases"]])
