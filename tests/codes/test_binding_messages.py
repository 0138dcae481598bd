"""The person who asked to be bound hears the answer through the notification service."""
from __future__ import annotations

import pytest

from kernel.events import relay_pending
from modules.codes import services
from modules.codes.models import BindingRequest
from notifications.models import Message
from tests.codes.conftest import id_number
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db


def test_binding_approved_and_refused_are_told(place, codes):
    matched = make_user(place.district, "msg-matched", "resident", phone="13500002222")
    client_for(place.district, matched).post(f"/codes/bind/{codes['h1'].token}/",
                                             {"name": "李四", "id_number": id_number(2)})
    waiting = make_user(place.district, "msg-waiting", "resident", phone="13500003333")
    client_for(place.district, waiting).post(f"/codes/bind/{codes['h1'].token}/",
                                             {"name": "赵七", "id_number": id_number(9)})
    with place:
        request = BindingRequest.objects.get(user=waiting)
        assert request.status == "pending"
        services.reject_binding(actor=place.worker, request=request, reason="不住在这里")
        relay_pending()
        approved = Message.objects.get(recipient=matched, channel="inbox", kind="codes.binding.approved")
        refused = Message.objects.get(recipient=waiting, channel="inbox", kind="codes.binding.rejected")
        assert place.h1.address in approved.body
        assert "不住在这里" in refused.body
        assert Message.objects.filter(recipient=waiting, channel="sms", kind="codes.binding.rejected").exists()
