"""The signed-in person's messages and notification preferences: /api/v1/me/messages/. Thin: parse,
call a service or selector, answer. Another person's message is a 404."""
from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import kinds, selectors, services
from notifications.models import Message


class MessageSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField(help_text="True once the person has read it")

    class Meta:
        model = Message
        fields = ["id", "kind", "title", "body", "link", "language", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class MessageFilter(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(method="filter_unread", help_text="true: only unread; false: only read")

    class Meta:
        model = Message
        fields = ["unread", "kind"]

    def filter_unread(self, queryset, name, value):
        return queryset.filter(read_at__isnull=value)


class MessageList(generics.ListAPIView):
    """The person's inbox, newest first."""

    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    ordering_fields = ["created_at"]

    def get_queryset(self):
        return selectors.inbox_of(self.request.user)

    @extend_schema(summary="My messages (the portal inbox)")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class MessageRead(APIView):
    @extend_schema(request=None, responses={200: MessageSerializer}, summary="Mark one of my messages read")
    def post(self, request, pk: int):
        message = generics.get_object_or_404(selectors.inbox_of(request.user), pk=pk)
        return Response(MessageSerializer(services.mark_read(actor=request.user, message=message)).data)


class MessageReadAll(APIView):
    @extend_schema(request=None, responses={200: inline_serializer("MessagesMarked", {
        "marked": serializers.IntegerField(help_text="how many messages were unread")})},
        summary="Mark all my messages read")
    def post(self, request):
        return Response({"marked": services.mark_all_read(actor=request.user)})


class UnreadCount(APIView):
    @extend_schema(responses={200: inline_serializer("UnreadCount", {"unread": serializers.IntegerField()})},
                   summary="How many of my messages are unread")
    def get(self, request):
        return Response({"unread": selectors.unread_count(request.user)})


CHANNEL_CHOICES = [c.value for c in kinds.EXTRA_CHANNELS]


class GroupSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="group of messages, e.g. cases, work, points, household")
    label = serializers.CharField()
    default = serializers.ListField(child=serializers.ChoiceField(CHANNEL_CHOICES))
    channels = serializers.ListField(child=serializers.ChoiceField(CHANNEL_CHOICES),
                                     help_text="channels besides the inbox (always on)")


class PreferencesSerializer(serializers.Serializer):
    groups = GroupSerializer(many=True, read_only=True)
    channels = serializers.DictField(child=serializers.ListField(child=serializers.ChoiceField(CHANNEL_CHOICES)),
                                     write_only=True, required=False,
                                     help_text='group -> channels besides the inbox, e.g. {"cases": ["sms"]}')
    quiet_start = serializers.TimeField(allow_null=True, required=False, help_text="local time, HH:MM")
    quiet_end = serializers.TimeField(allow_null=True, required=False,
                                      help_text="local time, HH:MM; may be before quiet_start (over midnight)")
    wechat_bound = serializers.BooleanField(read_only=True)


class Preferences(APIView):
    @extend_schema(responses={200: PreferencesSerializer}, summary="My notification preferences")
    def get(self, request):
        return Response(PreferencesSerializer(selectors.preferences_of(request.user)).data)

    @extend_schema(request=PreferencesSerializer, responses={200: PreferencesSerializer},
                   summary="Change my notification channels and quiet hours",
                   description="Groups not named keep their channels. Quiet hours: both times or neither "
                               "(null clears them) hold text and WeChat messages until they end.")
    def patch(self, request):
        data = PreferencesSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        current = selectors.preferences_of(request.user)
        values = data.validated_data
        services.save_preferences(
            actor=request.user, channels=values.get("channels"),
            quiet_start=values["quiet_start"] if "quiet_start" in values else current["quiet_start"],
            quiet_end=values["quiet_end"] if "quiet_end" in values else current["quiet_end"])
        return Response(PreferencesSerializer(selectors.preferences_of(request.user)).data)
