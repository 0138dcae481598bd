"""The audit log's filters (person, action, dates) and the before/after comparison of one entry."""
from __future__ import annotations

import datetime as dt
import json

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kernel.audit_names import action_choices
from kernel.models import AuditEntry


class AuditFilter(django_filters.FilterSet):
    actor = django_filters.ModelChoiceFilter(label=_("Who"), queryset=get_user_model().objects.none(),
                                             empty_label=_("anyone"))
    action = django_filters.ChoiceFilter(label=_("What"), choices=(), empty_label=_("any action"))
    since = django_filters.DateFilter(label=_("From"), method="filter_since",
                                      widget=forms.DateInput(attrs={"type": "date"}))
    until = django_filters.DateFilter(label=_("To"), method="filter_until",
                                      widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = AuditEntry
        fields = ["actor", "action", "since", "until"]

    def __init__(self, *args, english: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        seen = AuditEntry.objects.values_list("action", flat=True).distinct()
        self.filters["action"].extra["choices"] = action_choices(english=english, seen=seen)
        people = AuditEntry.objects.filter(actor__isnull=False).values("actor")
        self.filters["actor"].queryset = get_user_model().objects.filter(pk__in=people).order_by("username")

    @staticmethod
    def _day_start(day: dt.date):
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    def filter_since(self, qs, name, value):
        return qs.filter(at__gte=self._day_start(value)) if value else qs

    def filter_until(self, qs, name, value):
        return qs.filter(at__lt=self._day_start(value + dt.timedelta(days=1))) if value else qs


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=1)


def _is_data(value) -> bool:
    """A recorded value as it was stored (a username, a code, a document as JSON): not words to translate.
    Only yes / no and the dash of a missing value are the page's own words."""
    return value is not None and not isinstance(value, bool)


def _row(key: str, before, after) -> dict:
    return {"key": key, "before": _show(before), "after": _show(after), "changed": before != after,
            "before_is_data": _is_data(before), "after_is_data": _is_data(after)}


def changes(before, after) -> list[dict]:
    """One row per key of the before and after documents: {"key", "before", "after", "changed", and
    whether each side is JSON data}; yes / no for a boolean; a document that is not a dict is one row."""
    if not isinstance(before, dict | None) or not isinstance(after, dict | None):
        return [_row("", before, after)]
    before, after = before or {}, after or {}
    keys = list(before) + [k for k in after if k not in before]
    return [_row(k, before.get(k), after.get(k)) for k in keys]
