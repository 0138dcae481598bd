"""Writes of the codes module: issuing and re-issuing codes, binding residents to households (with
the ledger or the grid worker), the household head's invitations, print runs, the seed.

Every function is one transaction with its audit entry. ``actor=None`` is the system (seed, tasks)."""
from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events, jobs
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role, has_role_for
from kernel.personal import decrypt
from kernel.roles import Role
from kernel.text import clean_name
from modules.codes import selectors
from modules.codes.models import BindingRequest, Code, HouseholdInvite, PrintRun
from modules.registry import services as registry
from modules.registry.models import Household, Membership, Merchant, Official, Resident


def _required(field: str, message: str) -> DomainError:
    return DomainError(f"{field}: {message}", fields={field: [message]})


def _check_manager(actor, target, roles=selectors.ISSUERS) -> None:
    if actor is not None and not selectors.may_manage(actor, target, roles=roles):
        raise NotAllowed(_("This place is outside your area."))


# --- issuing -------------------------------------------------------------------------------------------

def _kinds_for(target) -> list[str]:
    if isinstance(target, Household):
        return [Code.Kind.HOUSEHOLD, Code.Kind.OUTDOOR]
    if isinstance(target, Merchant):
        return [Code.Kind.STALL if target.kind == Merchant.Kind.STALL else Code.Kind.MERCHANT]
    if isinstance(target, Official):
        return [Code.Kind.OFFICIAL]
    raise DomainError(_("Codes are issued for households, merchants and officials."))


def _target_field(target) -> str:
    return {Household: "household", Merchant: "merchant", Official: "official"}[type(target)]


def _one_target(household, merchant, official):
    given = [t for t in (household, merchant, official) if t is not None]
    if len(given) != 1:
        raise DomainError(_("target: give exactly one of household, merchant or official."),
                          fields={"target": [_("Give exactly one of household, merchant or official.")]})
    return given[0]


def issue_codes(*, actor, household: Household | None = None, merchant: Merchant | None = None,
                official: Official | None = None) -> list[Code]:
    """The active codes of a household (household + outdoor), a merchant (merchant or stall code) or an
    official, issuing those that are missing. Idempotent: calling it again issues nothing."""
    target = _one_target(household, merchant, official)
    _check_manager(actor, target)
    name = _target_field(target)
    with transaction.atomic():
        type(target).objects.select_for_update().filter(pk=target.pk).first()  # one issuer at a time
        existing = {c.kind: c for c in Code.objects.filter(status=Code.Status.ACTIVE, **{name: target})}
        wrong = [c for kind, c in existing.items() if kind not in _kinds_for(target)]
        if wrong:  # a shop that became a stall (or back): its code no longer says what it is
            for code in wrong:
                _revoke(code, actor=actor, reason="kind of merchant changed")
                existing.pop(code.kind)
        made = [Code.objects.create(kind=kind, issued_by=_user(actor), **{name: target})
                for kind in _kinds_for(target) if kind not in existing]
        for code in wrong:
            new = next((m for m in made if m.merchant_id == code.merchant_id), None)
            if new is not None:
                Code.objects.filter(pk=code.pk).update(replaced_by=new)
        if made:
            audit.record(actor=actor, action="codes.issue", target=target,
                         after={"codes": [{"id": c.pk, "kind": c.kind} for c in made]})
    return [existing[k] if k in existing else next(c for c in made if c.kind == k) for k in _kinds_for(target)]


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def issue_missing_codes(*, actor, households=None, merchants=None, officials=None) -> int:
    """Bulk and idempotent: issue every missing code of the given households / merchants / officials
    (querysets) in one transaction. Used by print runs and the seed; returns how many were issued."""
    rows: list[Code] = []
    with transaction.atomic():
        if households is not None:
            have = set(Code.objects.filter(status=Code.Status.ACTIVE, household__in=households)
                       .values_list("household_id", "kind"))
            for pk in households.values_list("pk", flat=True):
                rows.extend(Code(kind=kind, household_id=pk, issued_by=_user(actor))
                            for kind in (Code.Kind.HOUSEHOLD, Code.Kind.OUTDOOR) if (pk, kind) not in have)
        if merchants is not None:
            have = set(Code.objects.filter(status=Code.Status.ACTIVE, merchant__in=merchants)
                       .values_list("merchant_id", flat=True))
            rows.extend(Code(kind=Code.Kind.STALL if kind == Merchant.Kind.STALL else Code.Kind.MERCHANT,
                             merchant_id=pk, issued_by=_user(actor))
                        for pk, kind in merchants.values_list("pk", "kind") if pk not in have)
        if officials is not None:
            have = set(Code.objects.filter(status=Code.Status.ACTIVE, official__in=officials)
                       .values_list("official_id", flat=True))
            rows.extend(Code(kind=Code.Kind.OFFICIAL, official_id=pk, issued_by=_user(actor))
                        for pk in officials.values_list("pk", flat=True) if pk not in have)
        if rows:
            Code.objects.bulk_create(rows, batch_size=2000)
            counts: dict[str, int] = {}
            for row in rows:
                counts[row.kind] = counts.get(row.kind, 0) + 1
            audit.record(actor=actor, action="codes.issue_bulk", target_type="codes.code", target_id="",
                         after={"issued": counts})
    return len(rows)


def _revoke(code: Code, *, actor, reason: str) -> None:
    code.status = Code.Status.REVOKED
    code.revoked_at = timezone.now()
    code.revoked_by = _user(actor)
    code.reason = reason[:200]
    code.save(update_fields=["status", "revoked_at", "revoked_by", "reason"])


def revoke_and_reissue(*, actor, code: Code, reason: str) -> Code:
    """A lost or damaged plate: the old code is revoked (scanning it says it was replaced) and a new
    code for the same place is issued. Returns the new code."""
    reason = (reason or "").strip()
    if not reason:
        raise _required("reason", _("Say why the code is replaced, e.g. the door plate was lost."))
    _check_manager(actor, code.target)
    with transaction.atomic():
        old = Code.objects.select_for_update().get(pk=code.pk)
        if not old.is_active:
            raise Conflict(_("This code was already revoked; re-issue its replacement instead."),
                           code="code_revoked")
        _revoke(old, actor=actor, reason=reason)
        new = Code.objects.create(kind=old.kind, household_id=old.household_id, merchant_id=old.merchant_id,
                                  official_id=old.official_id, issued_by=_user(actor))
        old.replaced_by = new
        old.save(update_fields=["replaced_by"])
        audit.record(actor=actor, action="codes.reissue", target=new,
                     before={"code": old.pk, "token_tail": old.token[-6:]},
                     after={"code": new.pk, "kind": new.kind, "reason": reason})
        events.publish("codes.reissued", {"old": old.pk, "new": new.pk, "kind": new.kind})
    return new


# --- binding -------------------------------------------------------------------------------------------

def _same_name(a: str, b: str) -> bool:
    return "".join(a.split()) == "".join(b.split())


def _link_user(resident: Resident, user, *, actor) -> None:
    """Resident.user = the signed-in account (registry.link_account), and the resident role."""
    registry.link_account(actor=actor, resident=resident, user=user)
    if not has_role(user, Role.RESIDENT):
        from kernel.services import assign_role

        assign_role(actor=actor, user=user, role=Role.RESIDENT)


def request_binding(*, user, code: Code, name: str, id_number: str) -> BindingRequest:
    """A signed-in person who scanned a household code asks to be bound to it. If the ledger has a
    person of that ID number and name at this household, the account is linked at once; otherwise
    the request waits for the grid worker of the household's grid."""
    if not getattr(user, "is_authenticated", False):
        raise NotAllowed(_("Sign in with your phone number first."), code="not_authenticated", status=401)
    if code.kind != Code.Kind.HOUSEHOLD or not code.is_active:
        raise DomainError(_("token: scan the household code (户内码) inside your home to bind."),
                          fields={"token": [_("Not an active household code.")]})
    name, fields = _identity(user, name, id_number)
    household = code.household
    with transaction.atomic():
        mine = Resident.objects.filter(user=user).first()
        if mine and Membership.objects.filter(resident=mine, household=household, ended_at__isnull=True).exists():
            raise Conflict(_("You are already bound to this household."), code="already_bound")
        if mine and mine.id_number_index != fields["id_number_index"]:
            raise Conflict(_("Your account already belongs to another registered person. Ask your grid worker."),
                           code="account_taken")
        if BindingRequest.objects.filter(user=user, household=household,
                                         status=BindingRequest.Status.PENDING).exists():
            raise Conflict(_("Your request for this household is already waiting for the grid worker."),
                           code="binding_pending")
        person = Resident.objects.select_for_update().filter(id_number_index=fields["id_number_index"]).first()
        matched = (selectors.config()["auto_bind"] and person is not None and _same_name(person.name, name)
                   and Membership.objects.filter(resident=person, household=household, ended_at__isnull=True).exists()
                   and person.user_id in (None, user.pk) and (mine is None or mine.pk == person.pk))
        request = BindingRequest(user=user, household=household, code=code, name=name,
                                 id_number_encrypted=fields["id_number_encrypted"],
                                 id_number_index=fields["id_number_index"])
        if matched:
            _link_user(person, user, actor=user)
            request.status = BindingRequest.Status.APPROVED
            request.matched = True
            request.resident = person
            request.decided_at = timezone.now()
            request.relation = Membership.objects.filter(resident=person, household=household,
                                                         ended_at__isnull=True).values_list("relation", flat=True)[0]
        request.save()
        audit.record(actor=user, action="codes.binding.matched" if matched else "codes.binding.request",
                     target=request, after={"household": household.pk, "matched": matched})
        events.publish("codes.binding.approved" if matched else "codes.binding.requested",
                       {"binding": request.pk, "household": household.pk, "grid": household.grid.code})
    return request


def _check_decider(actor, request: BindingRequest) -> None:
    if not selectors.may_manage(actor, request.household, roles=selectors.DECIDERS):
        raise NotAllowed(_("Only the grid worker of this household's grid, community staff above it or the "
                           "district administrator can decide."))


def approve_binding(*, actor, request: BindingRequest, relation: str = Membership.Relation.MEMBER) -> BindingRequest:
    """The grid worker confirms: the person is bound to the household (registered first if the ledger
    does not have them) and their account linked."""
    _check_decider(actor, request)
    if relation not in Membership.Relation.values:
        raise DomainError(_("relation: one of head, member, tenant."), fields={"relation": [_("Unknown.")]})
    with transaction.atomic():
        request = BindingRequest.objects.select_for_update().select_related("household", "user").get(pk=request.pk)
        if request.status != BindingRequest.Status.PENDING:
            raise Conflict(_("This request was already decided."), code="already_decided")
        person = Resident.objects.select_for_update().filter(id_number_index=request.id_number_index).first()
        if person is None:
            person = registry.register_resident(actor=actor, name=request.name,
                                                id_number=decrypt(request.id_number_encrypted),
                                                household=request.household, relation=relation)
        elif not Membership.objects.filter(resident=person, household=request.household,
                                           ended_at__isnull=True).exists():
            registry.bind_resident(actor=actor, resident=person, household=request.household, relation=relation)
        _link_user(person, request.user, actor=actor)
        request.status = BindingRequest.Status.APPROVED
        request.resident = person
        request.relation = relation
        request.decided_at = timezone.now()
        request.decided_by = actor
        request.save(update_fields=["status", "resident", "relation", "decided_at", "decided_by"])
        audit.record(actor=actor, action="codes.binding.approve", target=request,
                     after={"household": request.household_id, "resident": person.pk, "relation": relation})
        events.publish("codes.binding.approved", {"binding": request.pk, "household": request.household_id,
                                                  "grid": request.household.grid.code})
    return request


def reject_binding(*, actor, request: BindingRequest, reason: str) -> BindingRequest:
    reason = (reason or "").strip()
    if not reason:
        raise _required("reason", _("Tell the resident why, e.g. not living at this address."))
    _check_decider(actor, request)
    with transaction.atomic():
        request = BindingRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != BindingRequest.Status.PENDING:
            raise Conflict(_("This request was already decided."), code="already_decided")
        request.status = BindingRequest.Status.REJECTED
        request.reason = reason[:200]
        request.decided_at = timezone.now()
        request.decided_by = actor
        request.save(update_fields=["status", "reason", "decided_at", "decided_by"])
        audit.record(actor=actor, action="codes.binding.reject", target=request, after={"reason": reason})
        events.publish("codes.binding.rejected", {"binding": request.pk, "household": request.household_id})
    return request


# --- the household head --------------------------------------------------------------------------------

def _check_head(actor, household: Household) -> None:
    membership = selectors.membership_of(actor, household)
    if membership is None or membership.relation != Membership.Relation.HEAD:
        raise NotAllowed(_("Only the household head can do this."), code="not_head")


def create_invite(*, actor, household: Household, relation: str = Membership.Relation.MEMBER) -> HouseholdInvite:
    """The household head makes a one-time link for a family member or tenant to join."""
    if relation not in (Membership.Relation.MEMBER, Membership.Relation.TENANT):
        raise DomainError(_("relation: member or tenant."), fields={"relation": [_("member or tenant.")]})
    _check_head(actor, household)
    hours = selectors.config()["invite_hours"]
    with transaction.atomic():
        invite = HouseholdInvite.objects.create(household=household, relation=relation, created_by=actor,
                                                expires_at=timezone.now() + timedelta(hours=hours))
        audit.record(actor=actor, action="codes.invite.create", target=invite,
                     after={"household": household.pk, "relation": relation, "hours": hours})
    return invite


def _identity(user, name: str, id_number: str) -> tuple[str, dict]:
    """A signed-in person's name and ID number, checked; the ID number encrypted and indexed."""
    if not getattr(user, "is_authenticated", False):
        raise NotAllowed(_("Sign in with your phone number first."), code="not_authenticated", status=401)
    if not (name or "").strip():
        raise _required("name", _("Enter your name as in your ID card."))
    name = clean_name(name, max_length=Resident._meta.get_field("name").max_length)  # kernel.text
    fields = registry.personal_fields(id_number=id_number)
    if not fields:
        raise _required("id_number", _("Enter your ID number."))
    return name, fields


def accept_invite(*, user, invite: HouseholdInvite, name: str, id_number: str) -> Membership:
    """The invited person (signed in) gives name and ID number and is bound: the head vouched."""
    name, fields = _identity(user, name, id_number)
    with transaction.atomic():
        invite = HouseholdInvite.objects.select_for_update().select_related("household").get(pk=invite.pk)
        if invite.used_at is not None:
            raise Conflict(_("This invitation was already used. Ask the household head for a new link."),
                           code="invite_used")
        if invite.expires_at <= timezone.now():
            raise DomainError(_("This invitation has expired. Ask the household head for a new link."),
                              code="invite_expired", status=410)
        person = Resident.objects.select_for_update().filter(id_number_index=fields["id_number_index"]).first()
        mine = Resident.objects.filter(user=user).first()
        if person is not None and not _same_name(person.name, name):
            raise DomainError(_("name: the name does not match the ID number we have. Ask your grid worker."),
                              fields={"name": [_("Does not match the ID number.")]}, code="name_mismatch")
        if person is None and mine is not None:
            raise Conflict(_("Your account already belongs to another registered person. Ask your grid worker."),
                           code="account_taken")
        if person is None:
            person = registry.register_resident(actor=user, name=name, id_number=id_number,
                                                household=invite.household, relation=invite.relation)
        elif not Membership.objects.filter(resident=person, household=invite.household,
                                           ended_at__isnull=True).exists():
            registry.bind_resident(actor=user, resident=person, household=invite.household, relation=invite.relation)
        _link_user(person, user, actor=user)
        invite.used_at = timezone.now()
        invite.used_by = user
        invite.resident = person
        invite.save(update_fields=["used_at", "used_by", "resident"])
        audit.record(actor=user, action="codes.invite.accept", target=invite,
                     after={"household": invite.household_id, "resident": person.pk})
    return Membership.objects.get(resident=person, household=invite.household, ended_at__isnull=True)


def remove_member(*, actor, membership: Membership) -> Membership:
    """The household head removes a member (not themself) from the household."""
    _check_head(actor, membership.household)
    if membership.relation == Membership.Relation.HEAD:
        raise DomainError(_("The household head cannot remove themself; ask the grid worker."),
                          code="head_cannot_leave")
    if membership.ended_at is not None:
        raise Conflict(_("This person has already left the household."), code="already_removed")
    with transaction.atomic():
        ended = registry.end_membership(actor=actor, membership=membership)
        audit.record(actor=actor, action="codes.member.remove", target=membership.household,
                     after={"resident": membership.resident_id})
    return ended


# --- print runs ----------------------------------------------------------------------------------------

PRINT_RUN_TASK = "modules.codes.tasks.make_print_run"
PRINTABLE = (Code.Kind.HOUSEHOLD, Code.Kind.OUTDOOR, Code.Kind.MERCHANT, Code.Kind.STALL)


def create_print_run(*, actor, scope_kind: str, scope_code: str, kinds, codes_per_sheet: int | None = None) -> PrintRun:
    """Queue a print run of a community's or a street's codes; a worker makes the files
    (modules.codes.print_runs, on the kernel's job runner)."""
    if scope_kind not in PrintRun.Scope.values:
        raise DomainError(_("scope_kind: community or street."), fields={"scope_kind": [_("community or street.")]})
    name = selectors.scope_name(scope_kind, scope_code)
    if name is None:
        raise DomainError(_("scope_code: no %(kind)s has this code.") % {"kind": scope_kind},
                          fields={"scope_code": [_("Unknown place.")]})
    kinds = list(dict.fromkeys(kinds or ()))
    bad = [k for k in kinds if k not in PRINTABLE]
    if not kinds or bad:
        raise DomainError(_("kinds: choose from household, outdoor, merchant, stall."),
                          fields={"kinds": [_("choose from household, outdoor, merchant, stall.")]})
    allowed = (1, 2, 4, 6, 8, 12, 24)
    per_sheet = codes_per_sheet or selectors.config()["codes_per_sheet"]
    if per_sheet not in allowed:
        raise DomainError(_("codes_per_sheet: one of 1, 2, 4, 6, 8, 12, 24."),
                          fields={"codes_per_sheet": [_("one of 1, 2, 4, 6, 8, 12, 24.")]})
    if actor is not None and not has_role_for(actor, selectors.PRINTERS, scope_kind, scope_code):
        raise NotAllowed(_("You can print the codes of your own community or street only."))
    with transaction.atomic():
        run = PrintRun.objects.create(scope_kind=scope_kind, scope_code=scope_code, scope_name=name, kinds=kinds,
                                      codes_per_sheet=per_sheet, created_by=_user(actor))
        audit.record(actor=actor, action="codes.print.create", target=run,
                     after={"scope": f"{scope_kind}:{scope_code}", "kinds": kinds, "per_sheet": per_sheet})
        jobs.queue(PRINT_RUN_TASK, run.pk)  # by name: the worker runs print_runs.produce
    return run


# --- seed ----------------------------------------------------------------------------------------------

def seed(*, template: str = "default", actor=None) -> None:
    """When a district starts (or the module is turned on): codes for every household, active merchant
    and active official that has none. Idempotent."""
    try:
        issue_missing_codes(actor=actor, households=Household.objects.all(),
                            merchants=Merchant.objects.filter(active=True),
                            officials=Official.objects.filter(active=True))
    except IntegrityError:  # a concurrent issuer won the race; the codes exist
        pass


__all__ = ["accept_invite", "approve_binding", "create_invite", "create_print_run", "issue_codes",
           "issue_missing_codes", "reject_binding", "remove_member", "request_binding", "revoke_and_reissue",
           "seed"]
