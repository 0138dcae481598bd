"""The module contract: every module app under modules/ declares one ModuleSpec in its spec.py."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass(frozen=True)
class NavEntry:
    """A link in the portal navigation. ``url_name`` is reversed in the tenant URLconf."""

    label_zh: str
    label_en: str
    url_name: str
    icon: str = "•"
    roles: tuple[str, ...] = ()  # empty: everyone; otherwise only users holding one of these roles
    staff: bool = False  # shown in the staff menu rather than the resident menu
    tab: bool = False  # also a tab of the resident's bottom tab bar (the module's main action, e.g. 随手拍)


@dataclass(frozen=True)
class MeFigure:
    """One figure of a person's own on their personal home, with the page that shows it."""

    key: str
    label_zh: str
    label_en: str
    value: int | str
    url: str = ""


@dataclass(frozen=True)
class PeriodicTask:
    task: str  # dotted Celery task name, run once per district that has the module on
    seconds: int


@dataclass(frozen=True)
class ModuleSpec:
    key: str
    name_zh: str
    name_en: str
    description_zh: str = ""
    description_en: str = ""
    depends: tuple[str, ...] = ()
    always_on: bool = False
    # JSON Schema (2020-12) of the module's configuration, with a ``default`` for every setting. The settings
    # page builds its form from it (portal.config_form): give every property a ``title`` in zh-Hans and a
    # ``title_en``, optionally ``description`` / ``description_en``, and for an enum of strings
    # ``enum_titles`` / ``enum_titles_en`` ({value: label}); an example value (a code, a prefix) goes in
    # ``examples``, not in the words, so it shows as an identifier. The validator ignores these words.
    config_schema: dict = field(default_factory=lambda: {"type": "object", "properties": {}})
    api_urls: str | None = None  # dotted module with ``urlpatterns``; mounted at /api/v1/<key>/
    portal_urls: str | None = None  # dotted module with ``urlpatterns``; mounted at /<key>/
    # (prefix, dotted module) pairs mounted at the host's root, for standards that fix their own paths
    # (Open311 at /open311/); tagged with the module like every other route. A root URL module may
    # define ``handler404(request, exception=None)``: the 404 of any path under its prefix (a standard's
    # clients read its own error format).
    root_urls: tuple[tuple[str, str], ...] = ()
    nav: tuple[NavEntry, ...] = ()
    code_kinds: tuple[str, ...] = ()
    # dotted module registering what a scanned code offers (``modules.codes.actions.register_action``);
    # imported once per process by ``modules.codes.actions.autodiscover``
    code_actions: str | None = None
    periodic_tasks: tuple[PeriodicTask, ...] = ()
    kpis: dict[str, str] = field(default_factory=dict)  # name -> dotted callable() -> number
    handlers: str | None = None  # dotted module registering outbox event handlers
    seed: str | None = None  # dotted callable(template=, actor=) run in a district when the module is turned on
    demo: str | None = None  # dotted callable(*, district, admin, rng_seed) seeding the module's demo data
    # The readable names of the audit actions this module records: code -> (zh-Hans, English). The audit
    # log shows these (kernel.audit_names); a code without a name shows as itself.
    audit_actions: dict[str, tuple[str, str]] = field(default_factory=dict)
    # What the district's home promises a resident of this module ("随手拍反映问题"): the home's
    # welcome line is made of the enabled modules' phrases, so it never promises a module that is off.
    promise_zh: str = ""
    promise_en: str = ""
    # dotted callable(user) -> list[MeFigure]: the signed-in person's own figures for their personal
    # home ("我的": my points, my open cases). Called only when the module is on for the district.
    me_figures: str | None = None

    def name(self, language: str | None = None) -> str:
        return self.name_en if (language or "").startswith("en") else self.name_zh

    def default_config(self) -> dict:
        return defaults_from_schema(self.config_schema)


def defaults_from_schema(schema: dict):
    """Build the default document of a JSON schema from its ``default`` keywords."""
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if schema.get("type") == "object":
        return {
            name: defaults_from_schema(sub)
            for name, sub in schema.get("properties", {}).items()
            if "default" in sub or sub.get("type") == "object"
        }
    return None
