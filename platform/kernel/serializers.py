"""Serializer plumbing shared by the API."""
from __future__ import annotations

import copy
from collections import OrderedDict

from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.relations import PKOnlyObject


class BoundOnce(serializers.Serializer):
    """An output serializer whose plain fields are bound once per class instead of once per instance.

    DRF deep-copies every declared field for each serializer it makes (``Serializer.fields``): for a
    list that is one copy a request, for a case's 40 fields about a third of a millisecond, and the
    hot read endpoints make several. Here the fields of one prototype instance serve every instance of
    the class; a ``SerializerMethodField`` is called on the live serializer (its ``self.context``), and
    a nested serializer or any other field that may read the context is copied and bound to the live
    instance, as DRF would. Reading only: validation (``data=``) is DRF's as ever."""

    # Fields whose to_representation depends only on the value (not on the serializer or its context).
    _PLAIN = (serializers.CharField, serializers.IntegerField, serializers.BooleanField,
              serializers.DateTimeField, serializers.DateField, serializers.DecimalField,
              serializers.FloatField, serializers.JSONField, serializers.ChoiceField, serializers.UUIDField,
              serializers.ReadOnlyField)

    @classmethod
    def _bound_fields(cls) -> list:
        plan = cls.__dict__.get("_bound_plan")
        if plan is None:
            prototype = cls()
            plan = []
            for field in prototype._readable_fields:
                if isinstance(field, serializers.SerializerMethodField):
                    plan.append(("method", field))
                elif isinstance(field, cls._PLAIN):
                    plan.append(("plain", field))
                else:
                    plan.append(("live", field))
            cls._bound_plan = plan
        return plan

    def _live(self, prototype_field):
        """A field that needs this serializer (its context): a fresh copy bound here, once per instance."""
        live = self.__dict__.setdefault("_live_fields", {})
        field = live.get(prototype_field.field_name)
        if field is None:
            field = live[prototype_field.field_name] = copy.deepcopy(prototype_field)  # DRF: a new, unbound one
            field.bind(prototype_field.field_name, self)
        return field

    def to_representation(self, instance):
        ret = OrderedDict()
        for how, field in self._bound_fields():
            if how == "method":
                ret[field.field_name] = getattr(self, field.method_name)(instance)
                continue
            if how == "live":
                field = self._live(field)
            try:
                attribute = field.get_attribute(instance)
            except SkipField:
                continue
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            ret[field.field_name] = None if check is None else field.to_representation(attribute)
        return ret
