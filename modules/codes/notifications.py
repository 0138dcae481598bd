"""What the codes module tells people, through the one notification service: a household binding
approved (by the grid worker, or at once when the ledger matched) or refused, with the reason."""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kernel.events import handles
from modules.codes.models import BindingRequest
from notifications.kinds import Group, Kind, register_group, register_kind
from notifications.services import Note, link, notify, to_user

register_group(Group("household", _("My household"), default_channels=("sms",), order=30))
_FIELDS = (("thing1", "address"), ("thing2", "title"))
register_kind(Kind("codes.binding.approved", "household", _("You are bound to your household"),
                   _("%(address)s: your account is now bound to this household."), wechat=_FIELDS))
register_kind(Kind("codes.binding.rejected", "household", _("Your household binding was refused"),
                   _("%(address)s. Reason: %(reason)s. You can ask your grid worker, or apply again."), wechat=_FIELDS))


def _request(payload) -> BindingRequest | None:
    return (BindingRequest.objects.select_related("user", "household__building__compound")
            .filter(pk=payload["binding"]).first())


def _tell(event, kind: str, request: BindingRequest, **extra) -> None:
    if not request.user.is_active:
        return
    notify(event=event, kind=kind, notes=[Note(to_user(request.user), {"address": request.household.address, **extra},
                                               link("portal:me"))])


@handles("codes.binding.approved", name="codes.notify_binding_approved")
def on_approved(payload, event):
    if request := _request(payload):
        _tell(event, "codes.binding.approved", request)


@handles("codes.binding.rejected", name="codes.notify_binding_rejected")
def on_rejected(payload, event):
    if request := _request(payload):
        _tell(event, "codes.binding.rejected", request, reason=request.reason.rstrip("。.！! "))
