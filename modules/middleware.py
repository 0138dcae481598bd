"""A module that is off for the district answers 404 on all of its pages and API routes."""
from __future__ import annotations

from django.http import Http404


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
            raise Http404("This module is not enabled for this district.")
        return None
