"""Reads of award batches: the batches a user sees, their progress, the places to choose residents
from, who got nothing, and the figure of the ops console."""
from __future__ import annotations

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import has_role
from kernel.roles import Role
from modules.points.batches.models import Batch
from modules.points.ledger.models import Entry
from modules.registry.models import Community, Compound, Grid, Membership, Resident, Street


def sms_counts(batch: Batch) -> tuple[int, int]:
    """Text messages about a finished batch (sent, failed): the notification service's SMS rows of the
    batch's ``points.batch_done`` event (modules.points.notify). Nothing is texted before it is done."""
    from kernel.models import OutboxEvent
    from notifications.models import Message

    if batch.status != Batch.Status.DONE:
        return 0, 0
    events = OutboxEvent.objects.filter(topic="points.batch_done", payload__batch_id=batch.pk).values("id")
    counted = dict(Message.objects.filter(event_id__in=events, channel="sms",
                                          status__in=(Message.Status.SENT, Message.Status.FAILED))
                   .values_list("status").annotate(n=Count("id")))
    return counted.get(Message.Status.SENT, 0), counted.get(Message.Status.FAILED, 0)


def progress(batch: Batch) -> dict:
    """A batch's progress as its page and the API show it."""
    total = batch.target_count or 0
    sent, failed = sms_counts(batch)
    return {"status": batch.status, "done": batch.progress_done, "total": total,
            "percent": round(100.0 * batch.progress_done / total, 1) if total else 100.0,
            "posted": batch.posted_count, "skipped": batch.skipped_count, "unknown": batch.unknown_count,
            "sms_sent": sent, "sms_failed": failed}


def batch_progress(batch: Batch) -> dict:
    batch.refresh_from_db()
    return progress(batch)


def batch_not_posted(batch: Batch) -> QuerySet:
    """Residents of a finished batch who got nothing (over the rule's cap)."""
    posted = Entry.objects.filter(source_kind="batch", source_id=batch.pk).values("resident_id")
    return Resident.objects.filter(pk__in=batch.targets.exclude(resident_id__in=posted).values("resident_id"))


BATCH_VIEWERS = (Role.DISTRICT_ADMIN, Role.COMMITTEE_MEMBER)


def batches_for(user) -> QuerySet:
    """The administrator and the committee see every batch; other staff the batches they made."""
    qs = Batch.objects.select_related("rule_version__rule", "created_by", "approved_by").order_by("-created_at", "-id")
    if has_role(user, *BATCH_VIEWERS):
        return qs
    return qs.filter(created_by=user)


def place_choices() -> dict[str, list[tuple[str, str]]]:
    """Streets, communities, grids and compounds for the batch form: (code, name)."""
    return {
        "street": list(Street.objects.order_by("code").values_list("code", "name")),
        "community": list(Community.objects.order_by("code").values_list("code", "name")),
        "grid": list(Grid.objects.order_by("code").values_list("code", "name")),
        "compound": list(Compound.objects.order_by("code").values_list("code", "name")),
    }


def place_name(kind: str, code: str) -> str:
    model = {"street": Street, "community": Community, "grid": Grid, "compound": Compound}.get(kind)
    return (model.objects.filter(code=code).values_list("name", flat=True).first() or "") if model else ""


def not_posted_rows(batch: Batch) -> list[dict]:
    """Residents of a batch who got nothing (over the rule's cap): name and current address only."""
    residents = list(batch_not_posted(batch).order_by("id")[:50_000])
    homes: dict[int, str] = {}
    for m in (Membership.objects.filter(resident_id__in=[r.pk for r in residents], ended_at__isnull=True)
              .select_related("household__building__compound")):
        homes.setdefault(m.resident_id, m.household.address)
    return [{"id": r.pk, "name": r.name, "address": homes.get(r.pk, "")} for r in residents]


def batches_running_kpi() -> int:
    return Batch.objects.filter(status__in=[Batch.Status.QUEUED, Batch.Status.RUNNING]).count()


def retry_refusal(user, batch: Batch) -> DomainError | None:
    """Why ``user`` may not start the batch again (None: they may): only a failed batch, by who made it
    or the administrator. The page asks it before it offers the button; ``services.retry_batch``
    enforces the same rule."""
    if not getattr(user, "is_authenticated", False) or (
            batch.created_by_id != user.pk and not has_role(user, Role.DISTRICT_ADMIN)):
        return NotAllowed(_("Only who made the batch (or the administrator) may start it again."))
    if batch.status != Batch.Status.FAILED:
        return Conflict(_("Only a failed batch is started again."), code="wrong_status")
    return None
