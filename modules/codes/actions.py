"""What a scanned code offers: a registry of actions, filled by the modules, so a later module adds
its actions (praise and report at an outdoor code, rating at a merchant code …) without touching
``codes``.

A module puts its registrations in a module its spec names as ``code_actions`` (imported by
``autodiscover`` when the codes app is ready) and lists the kinds it serves in its spec's ``code_kinds``::

    from modules.codes.actions import register_action

    register_action("outdoor", "report", "我要上报", "Report a problem", "cases:report-from-code",
                    who="passerby", module="cases", icon="📣")

``target`` is a URL name, reversed with ``token=<the code's token>`` (or, when the route takes no
token, reversed bare with ``?code=<token>`` appended), or a callable ``(ScanContext) -> str | None``
(``None`` hides the action). ``who`` is the audience:

- ``passerby``: everyone who scans, signed in or not;
- ``resident``: household and outdoor codes — a resident bound to that household; other kinds — a
  signed-in resident of the district (a customer who can rate);
- ``owner``: the household head, the merchant's owner, the official themself;
- ``staff``: staff whose area covers the place (grid, community, street, district; stall and merchant
  codes also sector grid workers, the inspectors).

Actions of a module that is off for the district are not shown.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module

from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

KINDS = ("household", "outdoor", "merchant", "official", "stall")
AUDIENCES = ("passerby", "resident", "owner", "staff")


@dataclass
class ScanContext:
    """Who scanned which code; what actions and pages decide on."""

    code: object
    user: object
    district: object
    audiences: frozenset[str]
    target: object = None
    extra: dict = field(default_factory=dict)

    @property
    def token(self) -> str:
        return self.code.token

    @property
    def kind(self) -> str:
        return self.code.kind


@dataclass(frozen=True)
class Action:
    kind: str
    key: str
    label_zh: str
    label_en: str
    target: str | Callable
    who: str
    module: str
    icon: str = ""
    order: int = 100
    when: Callable | None = None

    def label(self, english: bool) -> str:
        return self.label_en if english else self.label_zh

    def url(self, ctx: ScanContext) -> str | None:
        if callable(self.target):
            return self.target(ctx)
        try:
            return reverse(self.target, kwargs={"token": ctx.token})
        except NoReverseMatch:
            try:
                return f"{reverse(self.target)}?code={ctx.token}"
            except NoReverseMatch:
                return None  # the module's pages are not mounted here


_actions: dict[str, dict[str, Action]] = {kind: {} for kind in KINDS}


def register_action(kind: str, key: str, label_zh: str, label_en: str, target: str | Callable, *,
                    who: str = "passerby", module: str, icon: str = "", order: int = 100,
                    when: Callable | None = None) -> Action:
    """Add (or replace, by ``kind`` and ``key``) what a scanned code of ``kind`` offers."""
    from modules.catalog import catalog

    if kind not in KINDS:
        raise ImproperlyConfigured(f"code action {key!r}: unknown code kind {kind!r}; one of {', '.join(KINDS)}")
    if who not in AUDIENCES:
        raise ImproperlyConfigured(f"code action {key!r}: who={who!r}; one of {', '.join(AUDIENCES)}")
    if catalog.get(module) is None:
        raise ImproperlyConfigured(f"code action {key!r}: unknown module {module!r}")
    action = Action(kind, key, label_zh, label_en, target, who, module, icon, order, when)
    _actions[kind][key] = action
    return action


def unregister_action(kind: str, key: str) -> None:
    _actions.get(kind, {}).pop(key, None)


def registered(kind: str) -> list[Action]:
    return sorted(_actions.get(kind, {}).values(), key=lambda a: (a.order, a.key))


def actions_for(ctx: ScanContext) -> list[tuple[Action, str]]:
    """(action, url) of what this viewer may do with this code, in order; off modules left out."""
    out = []
    for action in registered(ctx.kind):
        if action.who not in ctx.audiences or not ctx.district.has_module(action.module):
            continue
        if action.when is not None and not action.when(ctx):
            continue
        url = action.url(ctx)
        if url:
            out.append((action, url))
    return out


_discovered = False


def autodiscover() -> None:
    """Import the ``code_actions`` module each module's spec names (once per process)."""
    global _discovered
    if _discovered:
        return
    from modules.catalog import catalog

    for spec in catalog:
        if spec.code_actions:
            import_module(spec.code_actions)
    _discovered = True
