"""Interactions: one touchpoint with a customer on one channel (a page view, an e-mail
opened, a LINE message, a call), and the channels they happen on."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ConflictError, ValidationError

#: Records with a channel's own id (interactions, case messages): ``id``, ``channel``,
#: ``external_id``, ``occurred_at`` and ``recorded_at`` fields, compared by value.
Sourced = TypeVar("Sourced")

#: The largest payload, in bytes of compact JSON: interactions are small facts, not
#: documents (a message body belongs to a case, a page to the shop's own store).
MAX_PAYLOAD_BYTES = 4096


@attrs.frozen
class Channel:
    """A channel customers reach the shop on, or the shop reaches them on.

    ``can_send``: ecrm may deliver messages through it (campaigns, case replies);
    ``can_receive``: inbound messages arrive through it (webhooks, mailboxes).
    """

    name: str = attrs.field(converter=lambda value: check.identifier("name", value))
    label: str | None = attrs.field(default=None,
                                    converter=lambda value: check.text("label", value, 100))
    can_send: bool = False
    can_receive: bool = False


#: Channels every shop has; plugins add more (``ecrm_channels``), e.g. LINE.
BUILT_IN_CHANNELS = (
    Channel("email", "E-mail", can_send=True, can_receive=True),
    Channel("phone", "Phone"),
    Channel("sms", "SMS"),
    Channel("web", "Web shop"),
    Channel("app", "Mobile app"),
    Channel("chat", "Web chat"),
    Channel("sns", "Social networks"),
    Channel("store", "Physical store"),
    Channel("marketplace", "Marketplace"),
    Channel("other", "Other"),
)


class InteractionKind(enum.StrEnum):
    """Well-known kinds. Any ``[a-z][a-z0-9_]*`` name is accepted; these are the ones
    ecrm's analytics and segments know the meaning of."""

    PAGE_VIEW = "page_view"
    PRODUCT_VIEW = "product_view"
    SEARCH = "search"
    CART_ADD = "cart_add"
    CART_REMOVE = "cart_remove"
    CHECKOUT_STARTED = "checkout_started"
    EMAIL_SENT = "email_sent"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    EMAIL_BOUNCED = "email_bounced"
    MESSAGE_IN = "message_in"
    MESSAGE_OUT = "message_out"
    CALL_IN = "call_in"
    CALL_OUT = "call_out"
    VISIT = "visit"
    REVIEW = "review"
    SURVEY_ANSWER = "survey_answer"


@attrs.frozen
class Interaction:
    """One touchpoint. ``external_id`` is the source's own id (a LINE message id, an
    analytics event id): recording it again on the same channel is a replay. ``sku`` names
    the product of product views and cart events; ``reference`` anything else the event
    is about (a campaign, a URL path, a message id)."""

    id: str
    customer_id: str
    channel: str
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    payload: Mapping[str, Any] = attrs.field(factory=dict)
    sku: str | None = None
    reference: str | None = None
    external_id: str | None = None


def build_interaction(*, interaction_id: str, customer_id: str, channel: object, kind: object,
                      occurred_at: object, recorded_at: datetime, channels: Iterable[str],
                      payload: object = None, sku: object = None, reference: object = None,
                      external_id: object = None) -> Interaction:
    """Validate the fields of a touchpoint and build it.

    :raises ValidationError: an unknown channel (not in ``channels``), a malformed kind,
        a naive time, or a payload that is not JSON or larger than ``MAX_PAYLOAD_BYTES``.
    """
    return Interaction(
        id=interaction_id,
        customer_id=customer_id,
        channel=known_channel(channel, channels),
        kind=check.identifier("kind", kind),
        occurred_at=_occurred_at(occurred_at, recorded_at),
        recorded_at=recorded_at,
        payload=small_payload(payload),
        sku=check.text("sku", sku, 64),
        reference=check.text("reference", reference, 128),
        external_id=check.text("external_id", external_id, 128),
    )


def known_channel(value: object, channels: Iterable[str]) -> str:
    """A channel name the shop knows; ValidationError naming ``channel`` if not."""
    name = check.identifier("channel", value)
    known = set(channels)
    if name not in known:
        raise ValidationError("channel", f"unknown channel {name!r}; known: "
                                         f"{', '.join(sorted(known))}")
    return name


def small_payload(value: object) -> dict[str, Any]:
    """A JSON mapping of at most ``MAX_PAYLOAD_BYTES`` as compact UTF-8 JSON."""
    payload = check.json_mapping("payload", value)
    size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise ValidationError("payload", f"is {size} bytes as JSON; at most "
                                         f"{MAX_PAYLOAD_BYTES}")
    return payload


def same_content(stored: Sourced, candidate: Sourced) -> bool:
    """True when ``candidate`` repeats ``stored`` (ids and recording time aside)."""
    return attrs.evolve(candidate, id=stored.id, recorded_at=stored.recorded_at) == stored


def replayed(stored: Sourced, candidate: Sourced, *, time_given: bool) -> Sourced:
    """What recording ``candidate`` again under ``stored``'s channel and external id
    answers: ``stored`` if the content matches (the time too, when the caller gave one).

    :raises ConflictError: other content under the same external id.
    """
    if not time_given:
        candidate = attrs.evolve(candidate, occurred_at=stored.occurred_at)
    if same_content(stored, candidate):
        return stored
    raise ConflictError(f"external id {stored.external_id!r} on channel {stored.channel!r} "
                        "was already recorded with other content")


def _occurred_at(value: object, recorded_at: datetime) -> datetime:
    moment = check.aware("occurred_at", recorded_at if value is None else value)
    assert moment is not None
    return moment
