"""The API's query filters: strict (a value a filter can't read is 400 in the one error shape, never
quietly ignored: ``is_sector=0.12`` used to list everything, ``ordering=nonsense`` sorted by default) and
cheap (django-filter's per-request costs cut, see ``FilterBackend``)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter

BOOLEAN_WORDS = {"true", "false", "1", "0"}


class FilterBackend(DjangoFilterBackend):
    """``DjangoFilterBackend`` that
    - refuses booleans other than true/false/1/0 (its boolean widget reads anything else as "not
      given"; it already refuses bad numbers, dates and choices);
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

    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            bad = {}
            for name, flt in filterset.filters.items():
                raw = request.query_params.get(name)
                if raw in (None, ""):
                    continue
                if issubclass(flt.field_class, forms.NullBooleanField | forms.BooleanField) and \
                        raw.lower() not in BOOLEAN_WORDS:
                    bad[name] = [_("Use true or false.")]
            if bad:
                raise exceptions.ValidationError(bad)
        return filterset


class StrictOrderingFilter(OrderingFilter):
    """``ordering`` names fields this list can be sorted by (``-`` for descending); others are 400."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        if len(valid) != len([f for f in fields if f]):
            allowed = sorted(item[0] for item in self.get_valid_fields(queryset, view, {"request": request}))
            raise exceptions.ValidationError({self.ordering_param: [
                _("Sort by one of: %(fields)s.") % {"fields": ", ".join(allowed) or "-"}]})
        return valid


def query_bool(request, name: str, default: bool = False) -> bool:
    """A true/false query parameter read by hand: true/false/1/0 (any case); empty or absent is
    ``default``; anything else is 400 naming the parameter."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() not in BOOLEAN_WORDS:
        raise exceptions.ValidationError({name: [_("Use true or false.")]})
    return raw.lower() in ("true", "1")


def query_int(request, name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter read by hand, from ``low`` to ``high``; empty or absent is
    ``default``; anything else is 400 naming the parameter and the range."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    text = raw.strip()
    value = int(text) if text.isascii() and text.lstrip("-").isdigit() and text.count("-") <= 1 else None
    if value is None or not low <= value <= high:
        raise exceptions.ValidationError({name: [_("A whole number from %(low)d to %(high)d.") % {
            "low": low, "high": high}]})
    return value


def query_choice(request, name: str, choices, default: str | None = None) -> str | None:
    """One of ``choices`` read by hand; empty or absent is ``default``; anything else is 400."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    allowed = [str(c) for c in choices]
    if raw not in allowed:
        raise exceptions.ValidationError({name: [_("One of: %(values)s.") % {"values": ", ".join(allowed)}]})
    return raw
