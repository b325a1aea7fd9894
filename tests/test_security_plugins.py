"""Security review: what plugins return is checked before ecrm uses it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

import ecrm
from ecrm import CRM, ManualClock
from ecrm.messages import send_everything

WHEN = datetime(2026, 4, 1, 9, tzinfo=timezone.utc)


class NoSend:
    """A delivery channel plugin whose channel cannot send."""

    name = "email"

    @ecrm.hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[object]:
        return [self]


def test_a_delivery_channel_without_send_is_refused_before_any_claim() -> None:
    crm = CRM.open("memory://", clock=ManualClock(WHEN), plugins=[NoSend()])
    crm.messages.gate = send_everything
    message = crm.messages.send(key="k", channel="email", purpose="transactional",
                                recipient="a@example.com", body="hi")
    with pytest.raises(ecrm.ValidationError) as error:
        crm.messages.dispatch()
    assert error.value.field == "plugins" and "send(message)" in error.value.message
    assert crm.messages.get(message.id) == message  # still pending, not claimed
