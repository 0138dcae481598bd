"""A module that is off for the district answers 404 on all of its pages and API routes."""
from __future__ import annotations

from django.http import Http404


class ModuleOff(Http404):
    """A page or route of a module the district has not enabled (a 404 that says so)."""

    def __init__(self, key: str):
        super().__init__("This module is not enabled for this district.")
        self.key = key


class ModuleGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        key = getattr(view_func, "module_key", None)
        if key is None:
            return None
        district = getattr(request, "tenant", None)
        if district is None or district.is_public or not district.has_module(key):
            raise ModuleOff(key)
        return None
