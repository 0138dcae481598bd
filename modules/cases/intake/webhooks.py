"""Signed status webhooks to integrations (12345 hotline, citizen mailbox). How-to: docs/integrations.md.

What is owed. Each status event of a case (``STATUS_TOPICS``) becomes one WebhookDelivery row for every
case it involves that came from an integration with a webhook URL — including duplicates answered
through their parent (``duplicate_ids`` of cases.resolved), so the hotline hears the answer given on
a snap report. The outbox handler writes the rows in the relay's transaction; (integration, event_id)
is unique, so a re-delivered outbox event adds nothing.

Sending. ``deliver_due`` claims due rows (FOR UPDATE SKIP LOCKED), counts the attempt and pushes the
next one past the time the batch may take, commits, and only then sends: no lock is held during HTTP.
Each send checks the URL again (kernel/netguard.py: DNS can change after the URL was saved) and
connects to the address it checked; an internal address is never called, unless the operator allows
it (WEBHOOK_ALLOWED_HOSTS). A 2xx answer marks the row delivered; anything else (other status,
redirect, timeout, refused connection, refused address) retries after 1 min, 5 min, 30 min, 2 h, 12 h,
then daily, and after MAX_ATTEMPTS the row is failed, keeping the last error. A worker killed mid-send
leaves the row claimed until the claim runs out, and then it is sent again: delivery is at least once,
and the receiver dedupes on X-Mashang-Delivery. A new row asks a worker to send at once; the 60 s sweep (tasks.deliver_webhooks)
sends whatever that missed. Rows of an inactive integration, or one without a URL, wait.

The request::

    POST <webhook_url>
    Content-Type: application/json; charset=utf-8
    X-Mashang-Event: cases.resolved
    X-Mashang-Delivery: <event_id>        the same on every retry: the receiver's dedupe key
    X-Mashang-Timestamp: <unix seconds>   when this attempt was signed
    X-Mashang-Signature: v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

    {"event_id": …, "event": "cases.resolved", "occurred_at": …,
     "case": {"ref", "external_id", "status", "result", "rating", "response_due", "resolution_due",
              "duplicate_of", "status_url", …}}

The receiver recomputes the signature over the raw body with the integration's webhook secret,
compares in constant time and refuses timestamps more than 5 minutes off."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import time

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework.fields import DateTimeField

from kernel import events, netguard
from modules.cases.intake.integration_api import IntegrationCaseSerializer
from modules.cases.intake.integrations import webhook_allowed, webhook_secret
from modules.cases.models import Case, WebhookDelivery
from modules.codes.selectors import district_domain

log = logging.getLogger(__name__)

STATUS_TOPICS = ("cases.submitted", "cases.assigned", "cases.accepted", "cases.started", "cases.resolved",
                 "cases.closed", "cases.auto_closed", "cases.rejected", "cases.reopened", "cases.transferred",
                 "cases.escalated")
BACKOFF_SECONDS = (60, 300, 1800, 7200, 43200, 86400)  # after the 1st, 2nd, … failure; then daily
MAX_ATTEMPTS = 10
TIMEOUT_SECONDS = 10
BATCH = 10
CLAIM = dt.timedelta(seconds=BATCH * TIMEOUT_SECONDS + 60)  # longer than one batch can take
DELIVER_TASK = "modules.cases.tasks.deliver_webhooks"
Pending = WebhookDelivery.Status.PENDING


# --- what is owed -------------------------------------------------------------------------------------

def _case_ids(payload: dict) -> list[int]:
    if "cases" in payload:  # cases.escalated and cases.auto_closed come in batches
        return [row["case_id"] for row in payload["cases"]]
    return [payload["case_id"], *payload.get("duplicate_ids", ())]


def queue_updates(payload: dict, event) -> int:
    """Outbox handler: one delivery per involved case that an integration with a webhook filed."""
    cases = list(Case.objects.filter(pk__in=_case_ids(payload), integration__isnull=False)
                 .exclude(integration__webhook_url="").select_related("category", "parent"))
    if not cases:
        return 0
    now, context = timezone.now(), {"domain": district_domain()}
    occurred_at = DateTimeField().to_representation(event.created_at)
    rows = []
    for case in cases:
        event_id = f"{event.id}.{case.pk}"
        rows.append(WebhookDelivery(
            integration_id=case.integration_id, case=case, event_id=event_id, kind=event.topic,
            payload={"event_id": event_id, "event": event.topic, "occurred_at": occurred_at,
                     "case": IntegrationCaseSerializer(case, context=context).data},
            next_attempt_at=now, created_at=now))
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)  # ON CONFLICT DO NOTHING
    transaction.on_commit(lambda: events.kick(DELIVER_TASK))  # a broker that is down: the sweep sends
    return len(rows)


for _topic in STATUS_TOPICS:
    events.handles(_topic, module="cases", name="cases.webhooks")(queue_updates)


# --- sending ------------------------------------------------------------------------------------------

def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def deliver_due(*, now=None, budget_seconds: float = 50.0) -> int:
    """Send this district's due updates, batch after batch, until none is due or the budget is spent
    (the next sweep goes on from there). Returns how many were delivered."""
    delivered, deadline = 0, time.monotonic() + budget_seconds
    while time.monotonic() < deadline and (batch := _claim(now or timezone.now())):
        delivered += sum(_send(delivery, now=now) for delivery in batch)
    return delivered


def _claim(now) -> list[WebhookDelivery]:
    with transaction.atomic():
        ids = list(WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                   .filter(status=Pending, next_attempt_at__lte=now, integration__active=True)
                   .exclude(integration__webhook_url="")
                   .order_by("next_attempt_at", "id").values_list("pk", flat=True)[:BATCH])
        WebhookDelivery.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=now + CLAIM)
    return list(WebhookDelivery.objects.filter(pk__in=ids).select_related("integration").order_by("id"))


def _send(delivery: WebhookDelivery, *, now=None) -> bool:
    integration = delivery.integration
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Mashang-Webhooks/1",
        "X-Mashang-Event": delivery.kind, "X-Mashang-Delivery": delivery.event_id,
        "X-Mashang-Timestamp": timestamp,
        "X-Mashang-Signature": f"v1={sign(webhook_secret(integration), timestamp, body)}"}
    code, error = None, ""
    try:  # checked again now (DNS can change) and sent to the checked address; redirects are not followed
        answer = netguard.post(integration.webhook_url, body=body, headers=headers, timeout=TIMEOUT_SECONDS,
                               allowed=webhook_allowed())
    except netguard.Refused as exc:  # never called: a failed attempt like any other, retried (and checked) later
        error = f"Refused: {exc}"
    except (OSError, http.client.HTTPException) as exc:  # unresolvable, refused, timeout, TLS, bad answer
        error = f"{type(exc).__name__}: {exc}"
    else:
        code = answer.status
        if not 200 <= code < 300:
            error = f"HTTP {code}: {answer.body.decode(errors='replace')}"
    return _record(delivery, code=code, error=error, now=now or timezone.now())


def _record(delivery: WebhookDelivery, *, code: int | None, error: str, now) -> bool:
    ok = code is not None and 200 <= code < 300
    if ok:
        changes = {"status": WebhookDelivery.Status.DELIVERED, "delivered_at": now, "next_attempt_at": None}
    elif delivery.attempts >= MAX_ATTEMPTS:
        changes = {"status": WebhookDelivery.Status.FAILED, "next_attempt_at": None}
    else:
        wait = BACKOFF_SECONDS[min(delivery.attempts, len(BACKOFF_SECONDS)) - 1]
        changes = {"next_attempt_at": now + dt.timedelta(seconds=wait)}
    WebhookDelivery.objects.filter(pk=delivery.pk, status=Pending).update(
        last_status_code=code, last_error=error[:300], **changes)
    log.log(logging.INFO if ok else logging.WARNING, "webhook %s", "delivered" if ok else "failed",
            extra={"integration": delivery.integration_id, "event": delivery.kind, "delivery": delivery.event_id,
                   "attempt": delivery.attempts, "status_code": code})
    return ok

