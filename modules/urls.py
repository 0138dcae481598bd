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


def _mount(prefix: str, dotted: str, key: str):
    urls = import_module(dotted)
    _tag(urls.urlpatterns, key)
    return path(prefix, include((urls.urlpatterns, key), namespace=key if not prefix.startswith("api") else f"api-{key}"))


def api_patterns():
    return [_mount(f"api/v1/{s.key}/", s.api_urls, s.key) for s in catalog if s.api_urls]


def portal_patterns():
    return [_mount(f"{s.key}/", s.portal_urls, s.key) for s in catalog if s.portal_urls]
