"""Campaigns: one message to the members of a segment, in variants, with a hold-out.

A campaign names its audience (a saved segment), a channel and a purpose, one or more
message variants (templates) and the share of the audience held out as a control group
that gets nothing. Each member's variant is a pure function of the campaign and the
customer, so a retry, a second worker or a report computes the same assignment.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: The variant name of the hold-out (control) group: members who get no message.
CONTROL = "control"
#: The longest campaign name, in characters.
MAX_NAME = 100
#: The largest share of an audience that may be held out.
MAX_HOLDOUT = 0.9
#: The default attribution window: orders within it after the send count as conversions.
DEFAULT_ATTRIBUTION = timedelta(days=7)


class CampaignStatus(enum.StrEnum):
    """Where a campaign is in its life."""

    DRAFT = "draft"  #: being written; may change
    SCHEDULED = "scheduled"  #: waits for its time; ``run_due`` launches it
    SENDING = "sending"  #: launched; its members are being queued
    SENT = "sent"  #: every member queued (or held out, or skipped)
    CANCELLED = "cancelled"  #: stopped; queues nothing more


class MemberStatus(enum.StrEnum):
    """What happened to one member of a campaign's audience."""

    QUEUED = "queued"  #: a message went to the outbox
    CONTROL = "control"  #: held out: could have been sent to, got nothing; the control group
    SKIPPED = "skipped"  #: no message: no consent, suppressed, no address


@attrs.frozen
class Variant:
    """One version of the message: templates for the subject (e-mail), the text body
    and an optional HTML body, and a relative ``weight`` in the assignment."""

    name: str
    body: str
    subject: str | None = None
    html: str | None = None
    weight: int = 1


@attrs.frozen
class CouponOffer:
    """A coupon for every recipient: the existing ``issued_only`` coupon ``code`` issued
    to each (shared), or, with ``terms``, a new single-use code per recipient (the terms
    of ``crm.coupons.create``, and ``prefix`` for the generated codes)."""

    code: str | None = None
    terms: Mapping[str, Any] | None = None
    prefix: str = ""

    @property
    def unique(self) -> bool:
        """True when every recipient gets a code of their own."""
        return self.terms is not None


@attrs.frozen
class Campaign:
    """A campaign and its state. ``cursor`` is the last customer id queued, so that a
    launch broken off continues where it stopped."""

    id: str
    name: str
    channel: str
    purpose: str
    segment_id: str
    variants: tuple[Variant, ...]
    status: CampaignStatus
    created_at: datetime
    updated_at: datetime
    holdout: float = 0.0
    coupon: CouponOffer | None = None
    scheduled_at: datetime | None = None
    launched_at: datetime | None = None
    finished_at: datetime | None = None
    cost: Decimal | None = None
    priority: int = 5
    attribution_window: timedelta = DEFAULT_ATTRIBUTION
    unsubscribe_url: str | None = None
    cursor: str | None = None

    def variant(self, name: str) -> Variant:
        """The variant called ``name``. :raises ValidationError: on ``variant``."""
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise ValidationError("variant", f"campaign {self.name!r} has no variant {name!r}")


@attrs.frozen
class CampaignMember:
    """One member of a campaign's audience: the variant drawn (``"control"`` for the
    hold-out), what happened, and the message and coupon code it got."""

    campaign_id: str
    customer_id: str
    variant: str
    status: MemberStatus
    at: datetime
    message_id: str | None = None
    coupon_code: str | None = None
    reason: str | None = None


def assign(campaign_id: str, customer_id: str, variants: Sequence[Variant],
           holdout: float) -> str:
    """The variant of ``customer_id`` in the campaign, or :data:`CONTROL`: a point in
    ``[0, 1)`` hashed from both ids; the first ``holdout`` of the line is the control
    group, the rest is shared among the variants by weight."""
    digest = hashlib.sha256(f"{campaign_id}\x00{customer_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    if point < holdout:
        return CONTROL
    share = (point - holdout) / (1 - holdout) * sum(v.weight for v in variants)
    for variant in variants:
        share -= variant.weight
        if share < 0:
            return variant.name
    return variants[-1].name  # float rounding at the very end of the line


def name(value: object) -> str:
    """A campaign name. :raises ValidationError: on ``name``."""
    return check.required_text("name", value, MAX_NAME)


def holdout(value: object) -> float:
    """The share held out, in ``[0, MAX_HOLDOUT]``. :raises ValidationError: on
    ``holdout``."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError("holdout", f"expected a number, got {type(value).__name__}")
    share = float(value)
    if not 0 <= share <= MAX_HOLDOUT:
        raise ValidationError("holdout", f"must be between 0 and {MAX_HOLDOUT}, got {share}")
    return share


def variants(values: object) -> tuple[Variant, ...]:
    """One or more variants with distinct identifier names (not ``"control"``) and
    positive weights. :raises ValidationError: on ``variants``."""
    if isinstance(values, Variant):
        values = [values]
    if not isinstance(values, Sequence) or not values:
        raise ValidationError("variants", "give at least one ecrm.Variant")
    seen: set[str] = set()
    for index, variant in enumerate(values):
        field = f"variants[{index}]"
        if not isinstance(variant, Variant):
            raise ValidationError(field, "expected an ecrm.Variant")
        check.identifier(field, variant.name)
        if variant.name == CONTROL or variant.name in seen:
            raise ValidationError(field, f"name {variant.name!r} is reserved or taken")
        if isinstance(variant.weight, bool) or not isinstance(variant.weight, int) \
                or variant.weight < 1:
            raise ValidationError(field, "weight must be a whole number of at least 1")
        seen.add(variant.name)
    return tuple(values)


def priority(value: object) -> int:
    """A message priority, 0 (lowest) to 9. :raises ValidationError: on ``priority``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9:
        raise ValidationError("priority", f"must be a whole number from 0 to 9, got {value!r}")
    return value


def attribution_window(value: object) -> timedelta:
    """A positive window of at most a year. :raises ValidationError: on
    ``attribution_window``."""
    if not isinstance(value, timedelta) or not timedelta(0) < value <= timedelta(days=366):
        raise ValidationError("attribution_window",
                              f"must be a timedelta from 1 second to a year, got {value!r}")
    return value


def unsubscribe_url(value: object) -> str | None:
    """A URL with a ``{token}`` placeholder, or None. :raises ValidationError: on
    ``unsubscribe_url``."""
    url = check.text("unsubscribe_url", value, 500)
    if url is not None and (url.count("{token}") != 1 or not url.startswith(
            ("https://", "http://"))):
        raise ValidationError("unsubscribe_url",
                              "must be an http(s) URL holding {token} once")
    return url
