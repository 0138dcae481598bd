"""Writes of the ledger: a rating from a scan or on site (``submit_rating``) and a case's rating
(``record_case_rating``, 一事一评, from the ``cases.closed`` event). One function per use case, keyword
arguments, one transaction, an audit entry, domain events through the outbox.

One live rating per rater, subject and period: a changed mind locks the earlier rating, supersedes it
(``state.change_state``) and saves the new one with ``replaces`` set — never a second live rating. Two
submissions at once are serialised by an advisory lock on (rater, subject); the unique constraint
``ratings_one_per_period`` is the backstop (an IntegrityError is retried, which then replaces)."""
from __future__ import annotations

import datetime as dt
import ipaddress

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kernel import audit, events, idempotency
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.locks import lock_key
from kernel.permissions import acting_user
from kernel.personal import blind_index
from modules.ratings.config import dimensions, settings
from modules.ratings.followup import services as followup
from modules.ratings.integrity import checks
from modules.ratings.ledger import state as states
from modules.ratings.ledger.models import COMMENT_MAX, Channel, Rating, State, SubjectKind
from modules.ratings.ledger.periods import period_key
from modules.registry.models import Grid, Membership, Merchant, Official, Resident

CODE_CHANNELS = {SubjectKind.OFFICIAL: (Channel.OFFICIAL_CODE, Channel.ON_SITE),
                 SubjectKind.MERCHANT: (Channel.MERCHANT_CODE, Channel.ON_SITE)}
ATTEMPTS = 3


# --- who may rate ---------------------------------------------------------------------------------------

def current_household(user):
    """The household ``user`` is bound to now (a registry Membership not ended), or None."""
    return (Membership.objects.filter(resident__user=user, ended_at__isnull=True)
            .order_by("id").values_list("household_id", flat=True).first())


def rater_profile(user) -> dict:
    """What the ledger keeps of a rater: their household (bound residents) and phone index. Raises
    NotAllowed (403, code ``not_a_rater``) when the district's ``raters`` setting does not let them rate."""
    if acting_user(user) is None:
        raise NotAllowed(_("Sign in to rate."), code="not_signed_in")
    # One query: the household the rater's resident record is bound to now, and its phone index.
    current = Membership.objects.filter(resident=OuterRef("pk"), ended_at__isnull=True).order_by("id")
    household_id, resident_phone = (Resident.objects.filter(user=user)
                                    .annotate(household=Subquery(current.values("household_id")[:1]))
                                    .values_list("household", "phone_index").first() or (None, None))
    phone_index = getattr(user, "phone_index", None) or resident_phone
    rule = settings()["raters"]
    if rule == "bound_residents" and household_id is None:
        raise NotAllowed(_("Only residents bound to a household may rate here. Scan your household code to "
                           "bind your account first."), code="not_a_rater")
    if rule == "verified_phone" and not phone_index and household_id is None:
        raise NotAllowed(_("Only people with a verified phone number may rate here. Sign in with your phone "
                           "number and a one-time code."), code="not_a_rater")
    return {"household_id": household_id, "phone_index": phone_index or ""}


def may_rate(user) -> bool:
    try:
        rater_profile(user)
    except NotAllowed:
        return False
    return True


def is_own(user, *, official=None, merchant=None) -> bool:
    """The subject themself: the official's own account, or the merchant's owner."""
    pk = getattr(user, "pk", None)
    if pk is None:
        return False
    return bool((official is not None and official.user_id == pk) or (merchant is not None and merchant.owner_id == pk))


# --- checks of what is submitted ------------------------------------------------------------------------

def _level(value, field: str = "level") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        message = _("A whole number from 1 (very dissatisfied) to 5 (very satisfied).")
        raise DomainError(_("Choose a level from 1 to 5."), fields={field: [message]})
    return value


def clean_scores(kind: str, level: int, scores) -> dict:
    """The district's dimensions, each with a level: those given, the rest the overall ``level`` (one
    tap rates everything). Unknown keys or bad values: 400 naming them."""
    keys = [d["key"] for d in dimensions(kind)]
    scores = scores or {}
    if not isinstance(scores, dict):
        raise DomainError(_("Scores are one level per dimension."),
                          fields={"scores": [_("An object of dimension: level.")]})
    unknown = sorted(str(k) for k in scores if k not in keys)
    errors = {}
    if unknown:
        errors["scores"] = [_("Unknown dimensions: %(keys)s. This district rates: %(known)s.")
                            % {"keys": ", ".join(unknown), "known": ", ".join(keys)}]
    for key, value in scores.items():
        if key in keys and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5):
            errors[f"scores.{key}"] = [_("A whole number from 1 (very dissatisfied) to 5 (very satisfied).")]
    if errors:
        raise DomainError(_("Some dimension levels are not right."), fields=errors)
    return {key: scores.get(key, level) for key in keys}


def _comment(comment) -> str:
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise DomainError(_("At most %(n)d characters.") % {"n": COMMENT_MAX},
                          fields={"comment": [_("At most %(n)d characters.") % {"n": COMMENT_MAX}]})
    return comment


def network_of(client_ip: str) -> str:
    """The client's network: its /24 (IPv4) or /48 (IPv6); '' when the address is not one."""
    try:
        ip = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _hash(value: str, kind: str) -> str:
    return blind_index(value, kind) if value else ""


def _places(grid) -> dict:
    community = grid.community if grid is not None else None
    return {"grid": grid, "community": community, "street": community.street if community is not None else None}


def _serialise(rater_key: str, kind: str, subject_pk: int) -> None:
    """One submission at a time per rater and subject (held until the transaction ends)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_key("ratings.rate", rater_key, kind, subject_pk)])


def _live(*, rater_key: str, kind: str, official, merchant, period: str):
    return (Rating.objects.select_for_update()
            .filter(rater_key=rater_key, subject_kind=kind, official=official, merchant=merchant, period_key=period,
                    state__in=[State.COUNTED, State.HELD], follow_on_of__isnull=True).first())


def _publish(rating: Rating, *, code_channel: bool) -> None:
    events.publish("ratings.rated", {
        "rating_id": rating.pk, "subject_kind": rating.subject_kind, "official_id": rating.official_id,
        "merchant_id": rating.merchant_id, "level": rating.level, "channel": rating.channel, "state": rating.state})
    if not rating.is_bad:
        rating._state.fields_cache["follow_up"] = None
        return
    # what the answer shows of it, known here: no query to find them again
    rating._state.fields_cache["follow_up"] = followup.open_follow_up(rating=rating, now=rating.created_at)
    if code_channel:  # a case rating's follow-up case is opened by the cases module itself
        events.publish("ratings.bad_rating", followup.bad_rating_payload(rating))


def _save(rating: Rating, *, previous: Rating | None, actor) -> Rating:
    """Check, save and count ``rating`` (replacing ``previous``), with its audit entry."""
    if previous is not None:
        states.change_state(rating=previous, to=State.SUPERSEDED, actor=actor, now=rating.created_at)
        rating.replaces = previous
    findings = checks.check_new(rating)
    rating.state = State.HELD if findings else State.COUNTED
    rating.hold_reasons = list(findings) if findings else []
    rating.save()
    rating._state.fields_cache["replaced_by"] = None  # a new rating: nothing replaced it
    states.insert_counted(rating)
    after = {"subject": f"{rating.subject_kind}:{rating.official_id or rating.merchant_id or ''}",
             "level": rating.level, "channel": rating.channel, "state": rating.state, "period": rating.period_key}
    if previous is not None:
        audit.record(actor=actor, action="ratings.replace", target=rating,
                     before={"rating": previous.pk, "level": previous.level}, after=after)
    else:
        audit.record(actor=actor, action="ratings.rate", target=rating, after=after)
    return rating


# --- rating from a code or on site ------------------------------------------------------------------------

def submit_rating(*, actor, official: Official | None = None, merchant: Merchant | None = None, level,
                  scores: dict | None = None, comment: str = "", channel: str | None = None, device_id: str = "",
                  client_ip: str = "", idempotency_key: str | None = None, now=None) -> Rating:
    """Rate an official or a merchant (from their code, or on site). A rating of the same subject by the
    same rater earlier in the period is superseded by this one. The same idempotency key again returns
    the first rating (``idempotency.created`` is False)."""
    user = acting_user(actor)
    now = now or timezone.now()
    if (official is None) == (merchant is None):
        raise DomainError(_("Rate one official or one merchant."), fields={"subject": [_("Required.")]})
    kind = SubjectKind.OFFICIAL if official is not None else SubjectKind.MERCHANT
    subject = official if official is not None else merchant
    channel = channel or CODE_CHANNELS[kind][0]
    if channel not in CODE_CHANNELS[kind]:
        raise DomainError(_("This channel does not rate this subject."), fields={"channel": [_("Not allowed here.")]})
    level = _level(level)
    scores = clean_scores(kind, level, scores)
    comment = _comment(comment)
    client_key = idempotency.clean_key(idempotency_key)
    if is_own(user, official=official, merchant=merchant):
        raise NotAllowed(_("You cannot rate yourself."), code="own_rating")
    profile = rater_profile(user)
    if not subject.active:
        raise Conflict(_("This official is no longer in this post.") if official is not None
                       else _("This business is no longer licensed here."), code="subject_inactive")
    keys = fingerprint = None
    if client_key:
        keys = idempotency.lookup_keys("ratings", client_key)
        fingerprint = idempotency.fingerprint(rater=user, kind=kind, subject=subject, level=level, scores=scores,
                                              comment=comment, channel=channel)
        repeat = _repeat(keys, fingerprint)
        if repeat is not None:
            return repeat
    rater_key = f"u:{user.pk}"
    period = period_key(now, settings()["period"])
    if official is not None:
        department, places = official.department, _places(None)
    else:
        department, places = None, _places(merchant.grid)
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                _serialise(rater_key, kind, subject.pk)
                previous = _live(rater_key=rater_key, kind=kind, official=official, merchant=merchant, period=period)
                rating = Rating(
                    subject_kind=kind, official=official, merchant=merchant, department=department, **places,
                    channel=channel, level=level, scores=scores, comment=comment, rater=user, rater_key=rater_key,
                    rater_household_id=profile["household_id"], rater_phone_index=profile["phone_index"],
                    device_hash=_hash((device_id or "").strip()[:200], "ratings.device"),
                    network_hash=_hash(network_of(client_ip), "ratings.network"), real_name=True,
                    period_key=period, created_at=now, idempotency_key=keys[0] if keys else None,
                    idempotency_fingerprint=fingerprint or "")
                _save(rating, previous=previous, actor=user)
                _publish(rating, code_channel=True)
            return idempotency.mark(rating, created=True)
        except IntegrityError:
            # A concurrent submission won: the same key (answer as a repeat) or the same period (retry:
            # this one now replaces it).
            repeat = _repeat(keys, fingerprint) if keys else None
            if repeat is not None:
                return repeat
            if attempt == ATTEMPTS - 1:
                raise Conflict(_("Another rating of yours was being saved at the same moment. Try again."),
                               code="rating_busy") from None
    raise AssertionError("unreachable")


def _repeat(keys, fingerprint):
    existing = Rating.objects.filter(idempotency_key__in=keys).first()
    if existing is None:
        return None
    idempotency.check_same(existing.idempotency_fingerprint, fingerprint)
    return idempotency.mark(existing, created=False)


# --- a case's rating (一事一评) -----------------------------------------------------------------------------

def _when(value) -> dt.datetime:
    at = parse_datetime(value) if isinstance(value, str) else value
    return at or timezone.now()


def record_case_rating(payload: dict) -> Rating | None:
    """The rating a reporter gave a closed case, for its handling official (their department) or, when
    the handler has no official record, the handling unit; counted in the case's grid. Idempotent: the
    same event again adds nothing; a case reopened and rated again supersedes its earlier rating."""
    level = payload.get("rating")
    case_id = payload.get("case_id")
    if level in (None, "") or case_id is None:
        return None  # an unrated close (e.g. closed automatically) is never a rating
    level = int(level)
    if not 1 <= level <= 5:
        return None
    created_at = _when(payload.get("closed_at"))
    with transaction.atomic():
        _serialise(f"case:{case_id}", "case", 0)
        of_case = Rating.objects.filter(case_id=case_id, channel=Channel.CASE, follow_on_of__isnull=True)
        recorded = of_case.filter(created_at=created_at).first()
        if recorded is not None:
            return recorded  # this close was recorded already
        # The live rating of an earlier close (the case was reopened and rated again): superseded. One a
        # reviewer rejected or an appeal removed stays as it is, in the record.
        previous = of_case.select_for_update().filter(state__in=[State.COUNTED, State.HELD]).first()
        official = (Official.objects.select_related("department").filter(user_id=payload["assignee_id"]).first()
                    if payload.get("assignee_id") else None)
        grid = (Grid.objects.select_related("community__street").filter(pk=payload["grid_id"]).first()
                if payload.get("grid_id") else None)
        user = (get_user_model().objects.filter(pk=payload["reporter_id"]).first()
                if payload.get("reporter_id") else None)
        phone_index = getattr(user, "phone_index", None) or ""
        rating = Rating(
            subject_kind=SubjectKind.OFFICIAL if official is not None else SubjectKind.UNIT, official=official,
            department=official.department if official is not None else None, **_places(grid),
            channel=Channel.CASE, level=level, scores={}, comment=(payload.get("comment") or "")[:COMMENT_MAX],
            rater=user, rater_key=f"case:{case_id}", rater_phone_index=phone_index,
            rater_household_id=current_household(user) if user is not None else None, real_name=user is not None,
            period_key=period_key(created_at, settings()["period"]), case_id=case_id,
            case_ref=(payload.get("ref") or "")[:32], created_at=created_at)
        _save(rating, previous=previous, actor=user)
        _publish(rating, code_channel=False)
    return rating
