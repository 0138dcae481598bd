"""Mounts every module's API and portal routes, tagging each view with its module key."""
from __future__ import annotations

from importlib import import_module

from django.urls import URLPattern, URLResolver, include, path

from modules.catalog import catalog


def _tag(patterns, key: str):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            _tag(pattern.url_patterns, key)
        elif isinstance(pattern, URLPattern):
            pattern.callback.module_key = key
    return patterns


def _mount(prefix: str, dotted: str, key: str, namespace: str | None = None):
    urls = import_module(dotted)
    _tag(urls.urlpatterns, key)
    if namespace is None:
        namespace = key if not prefix.startswith("api") else f"api-{key}"
    return path(prefix, include((urls.urlpatterns, namespace), namespace=namespace))


def api_patterns():
    return [_mount(f"api/v1/{s.key}/", s.api_urls, s.key) for s in catalog if s.api_urls]


def portal_patterns():
    return [_mount(f"{s.key}/", s.portal_urls, s.key) for s in catalog if s.portal_urls]


def root_patterns():
    """Routes a module mounts at the root (e.g. cases' /open311/), namespaced ``<key>-<first path part>``."""
    return [_mount(prefix, dotted, s.key, namespace=f"{s.key}-{prefix.strip('/').split('/')[0]}")
            for s in catalog for prefix, dotted in s.root_urls]


def root_handler404(path: str):
    """The ``handler404`` of the root URL module mounted over ``path`` (e.g. Open311's own error
    format under /open311/), or None: the site's page."""
    for spec in catalog:
        for prefix, dotted in spec.root_urls:
            if path.startswith(f"/{prefix}"):
                return getattr(import_module(dotted), "handler404", None)
    return None
