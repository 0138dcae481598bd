"""Writes of the notices module."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kernel import audit, events
from kernel.errors import DomainError, NotAllowed
from kernel.permissions import has_role_for
from kernel.roles import Role, ScopeKind
from kernel.selectors import module_config
from kernel.text import clean_text
from modules.notices.models import Notice

PUBLISHERS = (Role.DISTRICT_ADMIN, Role.COMMUNITY_STAFF)


def _check(actor, *, category: str, scope_kind: str, scope_code: str, pinned: bool, exclude_pk=None) -> None:
    config = module_config("notices")
    if category not in config["categories"]:
        raise DomainError(_("Category must be one of: %(c)s.") % {"c": ", ".join(config["categories"])},
                          fields={"category": [_("Unknown category.")]})
    if not has_role_for(actor, PUBLISHERS, scope_kind, scope_code):
        raise NotAllowed(_("You may only publish notices within your own area."))
    if pinned:
        others = Notice.objects.filter(pinned=True).exclude(pk=exclude_pk).count()
        if others >= config["max_pinned"]:
            raise DomainError(_("At most %(n)d notices can be pinned; unpin one first.") % {"n": config["max_pinned"]},
                              fields={"pinned": [_("Too many pinned notices.")]})


def _texts(**texts) -> dict:
    """The title (one line, with a letter) and body (lines) cleaned by kernel.text, in the order given."""
    out = {}
    if "title" in texts:
        out["title"] = clean_text(texts["title"], field="title", max_length=Notice._meta.get_field("title").max_length,
                                  name=True)
    if "body" in texts:
        out["body"] = clean_text(texts["body"], field="body", max_length=Notice._meta.get_field("body").max_length,
                                 required=False, multiline=True)
    return out


def publish_notice(*, actor, title: str, body: str, category: str, scope_kind: str = ScopeKind.DISTRICT,
                   scope_code: str = "", pinned: bool = False, published_at=None) -> Notice:
    scope_code = "" if scope_kind == ScopeKind.DISTRICT else scope_code
    _check(actor, category=category, scope_kind=scope_kind, scope_code=scope_code, pinned=pinned)
    title, body = _texts(title=title, body=body).values()
    with transaction.atomic():
        notice = Notice.objects.create(title=title, body=body, category=category, scope_kind=scope_kind,
                                       scope_code=scope_code, pinned=pinned,
                                       published_at=published_at or timezone.now(), created_by=actor)
        audit.record(actor=actor, action="notice.publish", target=notice,
                     after={"title": title, "category": category, "scope": f"{scope_kind}:{scope_code}"})
        events.publish("notices.published", {"notice_id": notice.pk})
    return notice


def update_notice(*, actor, notice: Notice, **changes) -> Notice:
    allowed = {"title", "body", "category", "pinned"}
    if set(changes) - allowed:
        raise DomainError(_("These fields cannot be changed: %(f)s.") % {"f": ", ".join(sorted(set(changes) - allowed))})
    changes.update(_texts(**{k: changes[k] for k in ("title", "body") if k in changes}))
    merged = {"category": notice.category, "pinned": notice.pinned} | changes
    _check(actor, category=merged["category"], scope_kind=notice.scope_kind, scope_code=notice.scope_code,
           pinned=merged["pinned"], exclude_pk=notice.pk)
    with transaction.atomic():
        before = {k: getattr(notice, k) for k in changes}
        for k, v in changes.items():
            setattr(notice, k, v)
        notice.save(update_fields=list(changes))
        audit.record(actor=actor, action="notice.update", target=notice, before=before, after=changes)
    return notice


def withdraw_notice(*, actor, notice: Notice) -> None:
    _check(actor, category=notice.category, scope_kind=notice.scope_kind, scope_code=notice.scope_code, pinned=False)
    with transaction.atomic():
        audit.record(actor=actor, action="notice.withdraw", target=notice, before={"title": notice.title})
        notice.delete()


def record_announcement(*, notice_id: int) -> None:
    """Outbox handler body: note how many residents the notice reached."""
    from kernel.models import RoleAssignment

    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.announced_at:
            return
        notice.audience_size = RoleAssignment.objects.filter(role=Role.RESIDENT).count()
        notice.announced_at = timezone.now()
        notice.save(update_fields=["audience_size", "announced_at"])
        audit.record(actor=None, action="notice.announced", target=notice, after={"audience": notice.audience_size})


def seed(*, template: str, actor=None) -> None:
    """A first notice, so a new district's portal is not empty."""
    if Notice.objects.exists():
        return
    with transaction.atomic():
        notice = Notice.objects.create(
            title="欢迎使用码上服务平台",
            body="扫码即可上报问题、查看积分、参与社区事务。如有疑问，请联系所在社区的网格员。",
            category=module_config("notices")["categories"][0], published_at=timezone.now(), pinned=True)
        audit.record(actor=actor, action="notice.seed", target=notice)
