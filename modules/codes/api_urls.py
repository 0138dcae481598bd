from django.urls import path
from rest_framework.routers import SimpleRouter

from modules.codes import api

router = SimpleRouter()
router.register("codes", api.CodeViewSet, basename="code")
router.register("print-runs", api.PrintRunViewSet, basename="print-run")
router.register("bindings", api.BindingViewSet, basename="binding")

urlpatterns = [
    path("scan/<slug:token>/", api.ScanView.as_view(), name="scan"),
    path("invites/", api.InviteView.as_view(), name="invites"),
    path("invites/<slug:token>/accept/", api.InviteAcceptView.as_view(), name="invite-accept"),
    path("members/<int:pk>/remove/", api.MemberRemoveView.as_view(), name="member-remove"),
    *router.urls,
]
