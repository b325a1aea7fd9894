"""The suppression list: addresses that must never be sent to on a channel, whatever the
customer's consent says (a hard bounce, a spam complaint, a legal request).

It is kept by address, not by customer, so it also covers addresses that belong to no
customer (yet) and survives merges and new sign-ups with the same address.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.domain.personal import personal
from ecrm.errors import ValidationError

#: The longest address kept (an e-mail address may be 254 characters; a LINE or device
#: id longer).
MAX_ADDRESS = 320

_SPACES = re.compile(r"\s+")


class SuppressionReason(enum.StrEnum):
    """Why an address is suppressed."""

    BOUNCE = "bounce"  #: the channel reported it undeliverable for good
    COMPLAINT = "complaint"  #: the recipient reported a message as spam
    REQUEST = "request"  #: the person asked never to be contacted there
    LEGAL = "legal"  #: a regulator, a court or the shop's lawyer said so


@attrs.frozen
class Suppression:
    """``address`` may not be sent to on ``channel`` since ``created_at``."""

    channel: str
    address: str = personal()
    reason: SuppressionReason
    created_at: datetime
    source: str | None = None


def address(channel: str, value: object) -> str:
    """``value`` as the suppression list keys it: stripped; e-mail addresses lower-cased,
    phone numbers reduced to digits and a leading ``+``; other channels' ids as given.
    :raises ValidationError: on ``address``."""
    text = check.required_text("address", value, MAX_ADDRESS)
    if channel == "email":
        return text.lower()
    if channel in ("sms", "phone"):
        digits = re.sub(r"[^\d+]", "", text)
        if not re.fullmatch(r"\+?\d{3,20}", digits):
            raise ValidationError("address", "is not a phone number")
        return digits
    if _SPACES.search(text):
        raise ValidationError("address", "must not contain white space")
    return text


def reason(value: object) -> SuppressionReason:
    """A :class:`SuppressionReason` from its value. :raises ValidationError: on ``reason``."""
    return check.choice(SuppressionReason, "reason")(value)


#: The customer field that holds the address of each channel with one.
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "phone": "phone"}


def keys_of(people: Iterable[Any], recipients: Iterable[tuple[str, str]] = ()
            ) -> set[tuple[str, str]]:
    """The (channel, address) keys under which the list may know these customers: their
    e-mail and phone on every channel that uses them, and each (channel, recipient) a
    message to them went to, normalised as the list keys them; values the list could
    never hold (a blank recipient, say) are left out."""
    pairs = set(recipients)
    for person in people:
        for channel, field in ADDRESS_FIELDS.items():
            value = getattr(person, field)
            if value is not None:
                pairs.add((channel, value))
    keys = set()
    for channel, value in pairs:
        try:
            keys.add((channel, address(channel, value)))
        except ValidationError:
            continue
    return keys
