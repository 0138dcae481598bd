"""Notification kinds: one template per event kind, in every language the portal speaks.

A module registers its kinds (and the groups a person sets channels for) when its handlers module is
imported, as ``codes.actions.register_action`` does for scan actions: the kernel imports no module.
Titles and bodies are gettext msgids with ``%(name)s`` placeholders; they are rendered once per
recipient, in the recipient's language, when the message is made."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.utils import translation

from notifications.models import Channel

EXTRA_CHANNELS = (Channel.SMS, Channel.WECHAT)  # the inbox is always on


@dataclass(frozen=True)
class Group:
    key: str
    label: object  # gettext_lazy
    default_channels: tuple[str, ...] = ()  # besides the inbox
    order: int = 50  # place on the settings page


@dataclass(frozen=True)
class Kind:
    key: str
    group: str
    title: object  # gettext_lazy msgid with %(name)s placeholders
    body: object
    # WeChat subscription message fields, in the template's order: (field key, context name). The field
    # key's prefix is the public API's value type (thing ≤ 20 characters, character_string ≤ 32, phrase ≤ 5,
    # time, number); "title" and "body" name the rendered texts.
    wechat: tuple[tuple[str, str], ...] = ()
    page: str = ""  # mini-program page the WeChat message opens; empty: the message's link


_groups: dict[str, Group] = {}
_kinds: dict[str, Kind] = {}


def register_group(group: Group) -> Group:
    _groups.setdefault(group.key, group)
    return _groups[group.key]


def register_kind(kind: Kind) -> Kind:
    _kinds.setdefault(kind.key, kind)
    return _kinds[kind.key]


def kind(key: str) -> Kind:
    return _kinds[key]


def group(key: str) -> Group:
    return _groups[key]


def groups() -> list[Group]:
    return sorted(_groups.values(), key=lambda g: (g.order, g.key))


def language_of(preferred: str | None) -> str:
    """The recipient's language if the portal speaks it (zh-hans, en), else the district default."""
    wanted = (preferred or "").lower()
    for code, _name in settings.LANGUAGES:
        if wanted and wanted.split("-")[0] == code.split("-")[0]:
            return code
    return settings.LANGUAGE_CODE


WECHAT_LIMITS = {"thing": 20, "character_string": 32, "phrase": 5, "number": 32, "letter": 32, "name": 10}


def _wechat_value(field: str, value: str) -> str:
    prefix = field.rstrip("0123456789")
    limit = WECHAT_LIMITS.get(prefix)
    value = " ".join(str(value).split())
    if limit and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    wechat: dict


def render(kind_key: str, context: dict, language: str) -> Rendered:
    k = kind(kind_key)
    with translation.override(language):
        words = {name: str(value) for name, value in context.items()}  # lazy texts in this language
        title = str(k.title) % words
        body = str(k.body) % words
    texts = {**words, "title": title, "body": body}
    data = {field: {"value": _wechat_value(field, texts.get(name, ""))} for field, name in k.wechat}
    return Rendered(title=title[:200], body=body, wechat=data)


@dataclass(frozen=True)
class Bilingual:
    """A name kept in two languages (a category's name_zh / name_en): the one of the language the
    message is rendered in, Chinese where English is missing."""

    zh: str
    en: str = ""

    def __str__(self) -> str:
        english = (translation.get_language() or "").startswith("en")
        return (self.en or self.zh) if english else self.zh
