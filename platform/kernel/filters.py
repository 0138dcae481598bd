"""The API's filter backend: django-filter's, less two costs paid on every list request."""
from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend


class FilterBackend(DjangoFilterBackend):
    """``DjangoFilterBackend`` that

    - builds the FilterSet class a view's ``filterset_fields`` describe once per view and model
      (django-filter makes a new class on every request: a metaclass pass over the model's fields);
    - returns the queryset as it is when the request carries none of the filters' parameters, without
      building and validating the filter form: a filter whose parameter is absent changes nothing.

    Profiled under bench/load.py, the two were about a fifth of a notice list's Python time."""

    _classes: dict = {}

    def get_filterset_class(self, view, queryset=None):
        if getattr(view, "filterset_class", None) or queryset is None:
            return super().get_filterset_class(view, queryset)
        key = (type(view), queryset.model)
        found = self._classes.get(key)
        if found is None:
            found = self._classes.setdefault(key, super().get_filterset_class(view, queryset))
        return found

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        params = request.query_params
        # Prefix match: some filters read suffixed parameters (range widgets: <name>_min, <name>_after).
        if not any(key.startswith(name) for key in params for name in filterset_class.base_filters):
            return queryset
        return super().filter_queryset(request, queryset, view)
