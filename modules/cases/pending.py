"""Photos and videos of a report form that was sent back (a category missing, a title too long):
kept for the next try, so the resident does not lose the photo they took.

A report page carries an upload token (a hidden field). When the form is refused after its files
were checked and cleaned (``uploads.prepare``), the cleaned files are stored under the district's
prefix (``cases/pending/``) and listed in the session under that token; the page shows them again,
each with a tick box. Sending the form again takes the ticked ones along with any new files; once
the case is filed they are deleted. Nothing is reachable from another browser: the session holds
the list, and the file view serves only what the session lists. Files left behind (a form never sent
again) are removed by ``sweep`` (hourly, with the orphan sweep)."""
from __future__ import annotations

import datetime as dt
import logging
import re
import secrets

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from modules.cases.intake.uploads import MAX_FILES, Prepared

log = logging.getLogger(__name__)

SESSION_KEY = "cases_pending_uploads"
FIELD = "upload_token"
FORMS_KEPT = 3  # the forms of one browser that keep files at a time (oldest dropped first)
FOLDER = "cases/pending"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,32}$")
SHA = re.compile(r"^[0-9a-f]{64}$")
META = ("sha256", "content_type", "kind", "width", "height", "size", "name", "file")


def token(form: dict) -> str:
    """The form's upload token (a new one when it has none or a malformed one)."""
    value = form.get(FIELD) or ""
    if not TOKEN.match(value):
        value = secrets.token_urlsafe(12)
        form[FIELD] = value
    return value


def _forms(request) -> dict:
    return request.session.get(SESSION_KEY) or {}


def listed(request, form_token: str) -> list[dict]:
    """What this browser keeps for the form: the files' descriptions (sha256, kind, …), in order."""
    return list(_forms(request).get(form_token, []))


def _delete(names) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - the sweep gets it later
            log.warning("could not delete a pending upload", extra={"file": name})


def _save(request, forms: dict) -> None:
    if forms:
        request.session[SESSION_KEY] = forms
    else:
        request.session.pop(SESSION_KEY, None)


def take(request, form_token: str, ticked: list[str]) -> list[Prepared]:
    """The kept files the form still ticks, read back as prepared files (already checked and
    cleaned). The ones it no longer ticks are deleted."""
    forms = _forms(request)
    rows = forms.get(form_token, [])
    wanted = [sha for sha in ticked if SHA.match(sha or "")]
    keep = [row for row in rows if row["sha256"] in wanted]
    _delete(row["file"] for row in rows if row not in keep)
    out, found = [], []
    for row in keep:
        try:
            with default_storage.open(row["file"], "rb") as handle:
                data = handle.read()
        except OSError:
            continue  # swept meanwhile: the resident sees it gone and takes it again
        found.append(row)
        out.append(Prepared(data=data, content_type=row["content_type"], kind=row["kind"], width=row["width"],
                            height=row["height"], sha256=row["sha256"], size=row["size"], name=row["name"]))
    if found:
        forms[form_token] = found
    else:
        forms.pop(form_token, None)
    _save(request, forms)
    return out


def keep(request, form_token: str, prepared: list[Prepared]) -> list[dict]:
    """Keep the prepared files of a refused form for its next try (at most ``MAX_FILES``)."""
    forms = _forms(request)
    rows = list(forms.get(form_token, []))
    known = {row["sha256"] for row in rows}
    for item in prepared:
        if item.sha256 in known or len(rows) >= MAX_FILES:
            continue
        name = default_storage.save(f"{FOLDER}/{secrets.token_hex(16)}", ContentFile(item.data))
        rows.append({"sha256": item.sha256, "content_type": item.content_type, "kind": item.kind,
                     "width": item.width, "height": item.height, "size": item.size, "name": item.name[:80],
                     "file": name})
        known.add(item.sha256)
    forms.pop(form_token, None)
    forms[form_token] = rows
    while len(forms) > FORMS_KEPT:
        oldest = next(iter(forms))
        _delete(row["file"] for row in forms.pop(oldest))
    _save(request, forms)
    return rows


def drop(request, form_token: str) -> None:
    """The form was filed: its kept files are on the case now (or were not wanted)."""
    forms = _forms(request)
    rows = forms.pop(form_token, None)
    if rows is not None:
        _delete(row["file"] for row in rows)
        _save(request, forms)


@require_safe
def serve(request, form_token: str, sha: str):
    """A kept file of this browser's form, for its thumbnail on the page (never anyone else's)."""
    row = next((r for r in listed(request, form_token) if r["sha256"] == sha), None)
    if row is None:
        raise Http404
    try:
        with default_storage.open(row["file"], "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise Http404 from exc
    response = HttpResponse(data, content_type=row["content_type"])
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def sweep(*, older_than: dt.timedelta = dt.timedelta(days=1), now=None) -> int:
    """Delete kept files of this district older than ``older_than`` (forms never sent again)."""
    now = now or timezone.now()
    try:
        _dirs, names = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    removed = 0
    for base in names:
        name = f"{FOLDER}/{base}"
        try:
            if now - default_storage.get_modified_time(name) < older_than:
                continue
        except (FileNotFoundError, NotImplementedError):
            continue
        _delete([name])
        removed += 1
    return removed
