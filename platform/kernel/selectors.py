"""Reads of the kernel: module configuration in force, roles of a user."""
from __future__ import annotations

from kernel.cache import cached, forget
from kernel.models import ModuleConfig, RoleAssignment
from modules.catalog import catalog

CONFIG_CACHE_SECONDS = 300


def _config_cache_key(module_key: str) -> str:
    return f"module-config:{module_key}"  # the cache's key function adds the tenant


def module_config(module_key: str) -> dict:
    """The configuration in force for a module in the current district (defaults if never edited).
    The dict is shared by the process's readers: read it, never change it."""

    def build():
        row = ModuleConfig.objects.filter(module_key=module_key).order_by("-version").first()
        return row.data if row else catalog[module_key].default_config()

    return cached(_config_cache_key(module_key), build, seconds=CONFIG_CACHE_SECONDS)


def forget_module_config(module_key: str) -> None:
    forget(_config_cache_key(module_key))


def config_versions(module_key: str):
    return ModuleConfig.objects.filter(module_key=module_key).select_related("created_by").order_by("-version")


def roles_of(user) -> list[RoleAssignment]:
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_role_cache", None)
    if cached is None:
        cached = list(RoleAssignment.objects.filter(user=user))
        user._role_cache = cached
    return cached


def role_names(user) -> set[str]:
    return {a.role for a in roles_of(user)}
