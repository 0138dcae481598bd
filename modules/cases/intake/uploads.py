"""Photos and short videos of cases: checked by their content (never by name or the browser's content
type), stripped of location and camera data (``media``), then stored under the district's prefix.

``prepare`` reads and cleans the uploaded files (no database, no storage); ``attach`` stores the
cleaned files of one case and stage in one transaction with an audit entry. Files written to storage
are deleted again when that transaction fails; ``atomic`` extends that to a caller's larger
transaction (create the case and attach its photos together), and ``sweep_orphan_files`` removes what
a crash between storage and commit could still leave behind."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit
from kernel.errors import Conflict, DomainError, NotAllowed
from kernel.permissions import acting_user
from kernel.selectors import module_config
from modules.cases.intake.media import HEIC_SUPPORTED, Refused, clean_photo, clean_video, sniff
from modules.cases.models import Attachment, Case

log = logging.getLogger(__name__)

MAX_FILES = 9  # per upload, and per case and stage in total
MAX_VIDEOS = 1
MAX_PHOTO_MB = 15
MAX_PHOTO_BYTES = MAX_PHOTO_MB * 1024 * 1024
NAME_MAX = 80  # of a file name quoted back in an error message

STAGE_STATUSES = {
    Attachment.Stage.REPORT: [str(s) for s in Case.OPEN],
    Attachment.Stage.RESULT: [Case.Status.ACCEPTED, Case.Status.IN_PROGRESS, Case.Status.RESOLVED],
}


@dataclass(frozen=True)
class Prepared:
    """One checked and cleaned file, ready to store. ``data`` is what will be stored (re-encoded
    photo, or the video with its metadata boxes blanked); ``name`` is the uploader's file name, kept
    for messages only."""

    data: bytes = field(repr=False)
    content_type: str
    kind: str  # Attachment.Kind: "photo" or "video"
    width: int | None
    height: int | None
    sha256: str
    size: int
    name: str = ""

    @property
    def bytes(self) -> bytes:  # noqa: A003 - the name the callers know
        return self.data


# --- prepare --------------------------------------------------------------------------------------

def _display_name(upload) -> str:
    name = (getattr(upload, "name", "") or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable()) or _("file")
    return name if len(name) <= NAME_MAX else name[:NAME_MAX - 1] + "…"


def _read(upload, limit: int | None = None) -> bytes:
    if hasattr(upload, "seek"):
        upload.seek(0)
    return upload.read() if limit is None else upload.read(limit)


def _message(reason: str, name: str, *, video_mb: int) -> str:
    messages = {
        "type": _("%(name)s: not a JPEG, PNG, WebP, HEIC photo or an MP4 video."),
        "empty": _("%(name)s: the file is empty."),
        "damaged": _("%(name)s: the file is damaged or incomplete; take or save it again."),
        "video": _("%(name)s: not a playable MP4 video (no picture track); record it again."),
        "pixels": _("%(name)s: the photo has too many pixels; send a smaller one."),
        "photo_size": _("%(name)s: a photo may be at most %(mb)d MB."),
        "video_size": _("%(name)s: a video may be at most %(mb)d MB; record a shorter one."),
        "heic": _("%(name)s: HEIC photos cannot be read here; send it as JPEG."),
    }
    mb = video_mb if reason == "video_size" else MAX_PHOTO_MB
    return messages[reason] % {"name": name, "mb": mb}


def _files_error(messages: list[str]) -> DomainError:
    return DomainError(messages[0], fields={"files": messages})


def prepare(files: Iterable, *, max_files: int = MAX_FILES) -> list[Prepared]:
    """Check uploaded files by their content and return cleaned copies, in order.

    Photos (JPEG, PNG, WebP, HEIC; at most 15 MB each) are fully decoded, turned upright by their
    EXIF orientation, scaled to at most 2560 px on the long side and re-encoded without EXIF, GPS,
    XMP or colour profile (JPEG quality 85; HEIC becomes JPEG). Videos (MP4; at most the district's
    ``max_video_mb``; at most one) keep their bytes, with every metadata box blanked. Raises
    ``DomainError`` with ``fields={"files": [...]}`` naming each file that was refused and why."""
    files = list(files)
    if len(files) > max_files:
        raise DomainError(_("Send at most %(n)d photos or videos at a time.") % {"n": max_files},
                          fields={"files": [_("At most %(n)d files.") % {"n": max_files}]})
    video_mb = int(module_config("cases").get("max_video_mb", 30))
    errors: list[str] = []
    out: list[Prepared] = []
    videos = 0
    for upload in files:
        name = _display_name(upload)
        try:
            head = _read(upload, 64)
            if not head:
                raise Refused("empty")
            kind = sniff(head)
            if kind is None:
                raise Refused("type")
            size = getattr(upload, "size", None)
            limit = video_mb * 1024 * 1024 if kind == "mp4" else MAX_PHOTO_BYTES
            if size is not None and size > limit:
                raise Refused("video_size" if kind == "mp4" else "photo_size")
            data = _read(upload, limit + 1)
            if len(data) > limit:
                raise Refused("video_size" if kind == "mp4" else "photo_size")
            if kind == "mp4":
                videos += 1
                cleaned, width, height = clean_video(data)
                content_type, attachment_kind = "video/mp4", Attachment.Kind.VIDEO
            else:
                if kind == "heic" and not HEIC_SUPPORTED:  # pragma: no cover
                    raise Refused("heic")
                cleaned, content_type, width, height = clean_photo(data, kind)
                attachment_kind = Attachment.Kind.PHOTO
        except Refused as bad:
            errors.append(_message(str(bad), name, video_mb=video_mb))
            continue
        out.append(Prepared(data=cleaned, content_type=content_type, kind=attachment_kind, width=width,
                            height=height, sha256=hashlib.sha256(cleaned).hexdigest(), size=len(cleaned),
                            name=name))
    if videos > MAX_VIDEOS:
        errors.append(_("Send one video at most; choose the one that shows the problem best."))
    if errors:
        raise _files_error(errors)
    return out


# --- storing --------------------------------------------------------------------------------------

_written: ContextVar[tuple[list[str], ...]] = ContextVar("cases_uploads_written", default=())


def _discard(names: Iterable[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:  # pragma: no cover - logged; the sweep gets it later
            log.warning("could not delete an uploaded file after a rollback", extra={"file": name})


@contextmanager
def atomic():
    """``transaction.atomic()`` that also deletes the files ``attach`` wrote inside it when the block
    fails. Views that create a case and attach its photos in one transaction use it."""
    written: list[str] = []
    token = _written.set((*_written.get(), written))
    try:
        with transaction.atomic():
            yield
    except BaseException:
        _discard(written)
        raise
    finally:
        _written.reset(token)


def _require_may_attach(user, case: Case, stage: str, trusted: bool) -> None:
    from modules.cases.services.handling import require_handler

    if stage == Attachment.Stage.REPORT:
        if not trusted and not (user and case.reporter_id == user.pk):
            raise NotAllowed(_("Only the person who reported the case may add photos or a video to the report."))
    else:
        require_handler(user, case, _("add result photos to"))
    if case.status not in STAGE_STATUSES[stage]:
        if stage == Attachment.Stage.REPORT:
            message = _("Photos can be added to a report only while the case is open.")
        else:
            message = _("Result photos can be added only while the case is accepted, in progress or resolved.")
        raise Conflict(message, code="wrong_status")


def attach(*, actor, case: Case, prepared: list[Prepared], stage: str = Attachment.Stage.REPORT, now=None,
           trusted: bool = False) -> list[Attachment]:
    """Store prepared files on a case, in one transaction with an audit entry.

    Stage ``report``: the case's signed-in reporter while the case is open; ``trusted=True`` lets a
    view attach to the case it has just created in the same request (an anonymous reporter).
    Stage ``result``: the case's handler or a supervisor while the case is accepted, in progress or
    resolved. A case keeps at most 9 files and 1 video per stage. A file already on the case and
    stage (same SHA-256) is not stored twice: its existing row is returned. Returns one row per
    distinct file, in order. Files written to storage are deleted again if the transaction fails."""
    user = acting_user(actor)
    now = now or timezone.now()
    if stage not in Attachment.Stage.values:
        raise DomainError(_("Stage is report or result."), fields={"stage": [_("Unknown stage.")]})
    if not prepared:
        return []
    written: list[str] = []
    collectors = _written.get()
    try:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case.pk)
            _require_may_attach(user, case, stage, trusted)
            existing = {a.sha256: a for a in Attachment.objects.filter(case=case, stage=stage)}
            unique: dict[str, Prepared] = {}
            for item in prepared:
                unique.setdefault(item.sha256, item)
            new = [item for sha, item in unique.items() if sha not in existing]
            room = MAX_FILES - len(existing)
            if len(new) > room:
                message = _("A case keeps at most %(n)d photos and videos for its %(stage)s; %(left)d more can "
                            "be added.") % {"n": MAX_FILES, "stage": Attachment.Stage(stage).label, "left": room}
                raise DomainError(message, fields={"files": [message]})
            videos = sum(1 for a in existing.values() if a.kind == Attachment.Kind.VIDEO)
            if videos + sum(1 for item in new if item.kind == Attachment.Kind.VIDEO) > MAX_VIDEOS:
                message = _("A case keeps one video for its %(stage)s.") % {"stage": Attachment.Stage(stage).label}
                raise DomainError(message, fields={"files": [message]})
            rows = []
            for sha, item in unique.items():
                if sha in existing:
                    rows.append(existing[sha])
                    continue
                row = Attachment(case=case, stage=stage, kind=item.kind, content_type=item.content_type,
                                 size=item.size, sha256=sha, width=item.width, height=item.height,
                                 uploaded_by=user, uploaded_at=now)
                # The storage name is random (models.attachment_path); the uploader's name is not kept.
                row.file.save("upload", ContentFile(item.data), save=False)
                written.append(row.file.name)
                for collector in collectors:
                    collector.append(row.file.name)
                row.save()
                rows.append(row)
            if new:
                added = {item.sha256 for item in new}
                audit.record(actor=user, action="cases.attach", target=case,
                             after={"stage": stage, "trusted": trusted and user is None,
                                    "files": [{"id": r.pk, "kind": r.kind, "content_type": r.content_type,
                                               "size": r.size, "sha256": r.sha256} for r in rows
                                              if r.sha256 in added]})
    except BaseException:
        _discard(written)
        raise
    return rows


def attachment_url(attachment: Attachment) -> str:
    """Where a signed-in user who may see the case gets the file (for ``<img src>`` / ``<video src>``)."""
    return reverse("api-cases:attachment", kwargs={"pk": attachment.case_id, "attachment_id": attachment.pk})


def sweep_orphan_files(*, older_than: dt.timedelta = dt.timedelta(hours=6), now=None) -> int:
    """Delete stored case files of the current district that no attachment row names and that are
    older than ``older_than`` (left by a crash, or by a caller's plain transaction that rolled back
    after ``attach``). Returns how many were deleted."""
    now = now or timezone.now()
    try:
        _dirs, names = default_storage.listdir("cases")
    except FileNotFoundError:
        return 0
    known = set(Attachment.objects.values_list("file", flat=True))
    removed = 0
    for base in names:
        name = f"cases/{base}"
        if name in known:
            continue
        try:
            if now - default_storage.get_modified_time(name) < older_than:
                continue
        except (FileNotFoundError, NotImplementedError):
            continue
        _discard([name])
        removed += 1
    return removed
