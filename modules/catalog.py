"""The module registry: discovers the spec of every module app and answers questions about them."""
from __future__ import annotations

from functools import cached_property
from importlib import import_module

from django.conf import settings

from modules.spec import ModuleSpec

# Keys that would collide with the platform's own URLs.
RESERVED_KEYS = {"admin", "api", "login", "logout", "static", "media", "manage", "c", "health", "ready", "i18n",
                 "me", "auth", "metrics"}


class ModuleCatalog:
    @cached_property
    def specs(self) -> dict[str, ModuleSpec]:
        found: dict[str, ModuleSpec] = {}
        for app in settings.MODULE_APPS:
            spec = import_module(f"{app}.spec").SPEC
            if spec.key in found or spec.key in RESERVED_KEYS:
                raise RuntimeError(f"module key {spec.key!r} is taken")
            found[spec.key] = spec
        for spec in found.values():
            missing = [d for d in spec.depends if d not in found]
            if missing:
                raise RuntimeError(f"module {spec.key} depends on unknown modules {missing}")
        self._check_acyclic(found)
        return found

    @staticmethod
    def _check_acyclic(found: dict[str, ModuleSpec]) -> None:
        state: dict[str, int] = {}

        def visit(key: str, path: tuple[str, ...]) -> None:
            if state.get(key) == 2:
                return
            if state.get(key) == 1:
                raise RuntimeError(f"module dependency cycle: {' -> '.join((*path, key))}")
            state[key] = 1
            for dep in found[key].depends:
                visit(dep, (*path, key))
            state[key] = 2

        for key in found:
            visit(key, ())

    def get(self, key: str) -> ModuleSpec | None:
        return self.specs.get(key)

    def __getitem__(self, key: str) -> ModuleSpec:
        return self.specs[key]

    def __iter__(self):
        return iter(self.specs.values())

    def keys(self) -> list[str]:
        return list(self.specs)

    def always_on(self) -> set[str]:
        return {s.key for s in self if s.always_on}

    def dependents(self, key: str) -> set[str]:
        """Modules that need ``key``, directly or through others."""
        out: set[str] = set()
        changed = True
        while changed:
            changed = False
            for spec in self:
                if spec.key not in out and (key in spec.depends or out & set(spec.depends)):
                    out.add(spec.key)
                    changed = True
        return out

    def closure(self, keys) -> set[str]:
        """``keys`` plus everything they depend on."""
        out: set[str] = set()
        todo = list(keys)
        while todo:
            key = todo.pop()
            if key not in out:
                out.add(key)
                todo.extend(self[key].depends)
        return out

    def in_dependency_order(self, keys) -> list[ModuleSpec]:
        """The specs of ``keys``, each after the modules it depends on; catalog order otherwise."""
        wanted = set(keys)
        out: list[ModuleSpec] = []
        placed: set[str] = set()

        def visit(spec: ModuleSpec) -> None:
            if spec.key in placed:
                return
            placed.add(spec.key)  # the catalog is acyclic (checked when it is built)
            for dep in spec.depends:
                if dep in wanted:
                    visit(self[dep])
            out.append(spec)

        for spec in self:
            if spec.key in wanted:
                visit(spec)
        return out

    def effective(self, district) -> list[ModuleSpec]:
        """The specs on for a district, in catalog order."""
        on = set(district.modules) | self.always_on()
        return [s for s in self if s.key in on]


catalog = ModuleCatalog()
