"""Query filters that say no: a value a filter can't read is 400 in the one error shape, never quietly
ignored (``is_sector=0.12`` used to list everything; ``ordering=nonsense`` used to sort by default)."""
from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter

BOOLEAN_WORDS = {"true", "false", "1", "0"}


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend (which already refuses bad numbers, dates and choices), plus booleans:
    its boolean widget reads anything but true/false/1/0 as "not given"."""

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
