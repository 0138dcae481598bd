from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from kernel.cache import forget, kept_list
from kernel.permissions import has_role
from modules.notices import selectors, services
from modules.notices.models import Notice


class NoticeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notice
        fields = ["id", "title", "body", "category", "scope_kind", "scope_code", "pinned", "published_at",
                  "audience_size"]
        read_only_fields = ["id", "audience_size"]
        extra_kwargs = {"published_at": {"required": False}, "scope_code": {"required": False}}


LIST_KEY = "notices:list"
LIST_SECONDS = 5


def forget_list(**kwargs) -> None:
    """post_save / post_delete of a Notice (modules.notices.apps): the kept list is dropped."""
    forget(LIST_KEY)


class ReadOrPublisher(BasePermission):
    message = "Only district administrators and community staff can change notices."

    def has_permission(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return request.user.is_authenticated and has_role(request.user, *services.PUBLISHERS)


class NoticeList(generics.ListCreateAPIView):
    serializer_class = NoticeSerializer
    permission_classes = [ReadOrPublisher]
    filterset_fields = ["category", "scope_kind", "scope_code", "pinned"]
    ordering_fields = ["published_at", "id"]

    def get_queryset(self):
        return selectors.published()

    def list(self, request, *args, **kwargs):
        """The plain list (no filter, order or page asked for) is the same for every caller of a district:
        kept for LIST_SECONDS (kernel.cache.kept_list), dropped whenever a notice is saved or deleted
        (``forget_list``). A notice scheduled for later shows up at most LIST_SECONDS late."""
        return kept_list(LIST_KEY, request, lambda: super(NoticeList, self).list(request, *args, **kwargs),
                         seconds=LIST_SECONDS)

    @extend_schema(summary="Publish a notice")
    def post(self, request):
        data = NoticeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notice = services.publish_notice(actor=request.user, **data.validated_data)
        return Response(NoticeSerializer(notice).data, status=status.HTTP_201_CREATED)


class NoticeDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = NoticeSerializer
    permission_classes = [ReadOrPublisher]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.request.method in SAFE_METHODS:
            return selectors.published()
        return Notice.objects.all()

    def perform_update(self, serializer):
        changes = {k: v for k, v in serializer.validated_data.items() if k in {"title", "body", "category", "pinned"}}
        serializer.instance = services.update_notice(actor=self.request.user, notice=serializer.instance, **changes)

    def perform_destroy(self, instance):
        services.withdraw_notice(actor=self.request.user, notice=instance)


