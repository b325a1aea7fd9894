"""What happened to a sent message after it left: opened, clicked, bounced.

The host's tracking pixel, redirect links or the provider's webhooks report these; each
becomes an interaction on the customer's timeline, on the message's interaction channel,
with the message id as its reference and ``<message id>:<event>`` as its external id.
So an event reported again (a provider retrying its webhook, a second open) is
recorded once, and a campaign's report counts each message's events by key.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.domain import validation as check
from ecrm.domain.ids import new_id
from ecrm.domain.interactions import Interaction, build_interaction
from ecrm.domain.outbox import MessageStatus, OutboxMessage
from ecrm.domain.suppression import Suppression, SuppressionReason
from ecrm.domain.suppression import address as suppression_key
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM


class MessageEvent(enum.StrEnum):
    """Something that happened to a delivered message."""

    OPENED = "opened"
    CLICKED = "clicked"
    BOUNCED = "bounced"


def interaction_channel(crm: CRM, message: OutboxMessage) -> str:
    """The interaction channel a message's events go on: its own, when the shop knows
    it as an interaction channel, else ``"other"``."""
    return message.channel if message.channel in crm.interactions.channels else "other"


def event_kind(message: OutboxMessage, event: MessageEvent) -> str:
    """``email_opened`` for e-mail (the kinds analytics know), ``message_opened`` for
    the other channels."""
    return f"{'email' if message.channel == 'email' else 'message'}_{event.value}"


def event_key(message_id: str, event: MessageEvent) -> str:
    """The external id of an event: one per message and kind of event."""
    return f"{message_id}:{event.value}"


def record(crm: CRM, message_id: str, event: MessageEvent, *, at: datetime | None,
           url: str | None = None, reason: str | None = None,
           suppress: bool = False) -> Interaction:
    """Record ``event`` of a sent message (once: a repeat returns the first record).
    ``suppress`` also puts the address on the suppression list (a hard bounce).

    :raises NotFound: no such message. :raises ConflictError: it was never sent.
    :raises ValidationError: a bad ``at``, ``url`` or ``reason``.
    """
    now = crm.clock.now()
    when = check.aware("at", at, required=False) or now
    payload = {k: v for k, v in (("url", check.text("url", url, 2000)),
                                 ("reason", check.text("reason", reason, 500))) if v}

    def work(uow: UnitOfWork) -> Interaction:
        message = uow.outbox.get(message_id)
        if message is None:
            raise NotFound("message", message_id)
        if message.status != MessageStatus.SENT or message.customer_id is None:
            raise ConflictError(f"message {message_id!r} was not sent to a customer")
        channel = interaction_channel(crm, message)
        key = event_key(message.id, event)
        stored = uow.interactions.by_external_id(channel, key)
        if stored is not None:
            return stored
        interaction = build_interaction(
            interaction_id=new_id(), customer_id=message.customer_id, channel=channel,
            kind=event_kind(message, event), occurred_at=when, recorded_at=now,
            channels=crm.interactions.channels, payload=payload or None,
            reference=message.id, external_id=key)
        uow.interactions.add(interaction)
        if suppress:
            _suppress(uow, message, now)
        crm.notify_after_commit(uow, "ecrm_interaction_recorded", interaction=interaction)
        return interaction

    return crm.transact(work, replay_on_duplicate=True)


def recorded(uow: UnitOfWork, crm: CRM, messages: Collection[OutboxMessage],
             event: MessageEvent) -> set[str]:
    """The ids of those ``messages`` with ``event`` recorded."""
    by_channel: dict[str, list[str]] = {}
    for message in messages:
        by_channel.setdefault(interaction_channel(crm, message), []).append(
            event_key(message.id, event))
    found: set[str] = set()
    for channel, keys in by_channel.items():
        found.update(key.rsplit(":", 1)[0]
                     for key in uow.interactions.by_external_ids(channel, keys))
    return found


def _suppress(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
    try:
        key = suppression_key(message.channel, message.recipient)
    except ValidationError:
        return
    if uow.suppressions.get(message.channel, key) is None:
        uow.suppressions.add(Suppression(message.channel, key, SuppressionReason.BOUNCE, now,
                                         f"bounce of message {message.id}"))
