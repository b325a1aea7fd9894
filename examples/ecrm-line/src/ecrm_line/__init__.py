"""ecrm-line: the LINE channel for ecrm, an example channel plugin.

It contributes the channel ``line`` and reads LINE Messaging API webhooks for
``crm.inbound.receive("line", body, headers=headers)``:

- the ``X-Line-Signature`` header must be the base64 HMAC-SHA256 of the raw body under
  the channel secret, else ``ecrm.ValidationError`` (nothing is written);
- a text message from a user becomes an ``ecrm.InboundMessage`` whose external id is the
  LINE message id. A chat is one conversation, so it goes to the case of the message it
  quotes, else to the case of the user's previous message in the same webhook, else to the
  customer's newest active (new, open or pending) LINE case; only without one does it
  open a case;
- ``follow`` and ``unfollow`` become ``ecrm.InboundEvent`` kinds ``line_follow`` and
  ``line_unfollow`` (external id: the webhook event id);
- everything else (stickers, images, postbacks, group chats) is left out.

Which customer a LINE user is, the host decides with ``customer_for``; see the README.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs

import ecrm
from ecrm import InboundEvent, InboundMessage, Sender, ValidationError

__all__ = ["CHANNEL", "ENV_SECRET", "LinePlugin", "active_case", "linked_customer", "plugin",
           "signature", "verify", "webhook_events"]

#: The channel this plugin contributes and reads.
CHANNEL = ecrm.Channel("line", "LINE", can_send=True, can_receive=True)
#: Where the entry point's plugin reads the channel secret from.
ENV_SECRET = "ECRM_LINE_CHANNEL_SECRET"
#: The header carrying the body's signature (names arrive lower-cased).
SIGNATURE_HEADER = "x-line-signature"
#: The statuses of a case a new message continues (a resolved case gets a new one).
ACTIVE_STATUSES = frozenset({"new", "open", "pending"})
#: Follow events and the interaction kinds they become.
FOLLOW_KINDS = {"follow": "line_follow", "unfollow": "line_unfollow"}

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def linked_customer(user_id: str) -> Sender:
    """The default mapping: the customer whose external id is ``line:<userId>``."""
    return Sender(external_id=f"line:{user_id}")


def signature(body: bytes, channel_secret: str) -> str:
    """What LINE puts in ``X-Line-Signature``: base64 of HMAC-SHA256(secret, body)."""
    digest = hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


class LinePlugin:
    """The LINE channel.

    :param channel_secret: the LINE channel's secret; None reads ``ECRM_LINE_CHANNEL_SECRET``
        from the environment when the first webhook arrives.
    :param customer_for: maps a LINE userId to the ``ecrm.Sender`` to file the event
        under, or None to leave that user's events out. The default,
        :func:`linked_customer`, names the customer whose external id is
        ``line:<userId>``.
    """

    def __init__(self, *, channel_secret: str | None = None,
                 customer_for: Callable[[str], Sender | None] = linked_customer) -> None:
        self._channel_secret = channel_secret
        self._customer_for = customer_for

    @ecrm.hookimpl
    def ecrm_channels(self) -> list[ecrm.Channel]:
        """Contribute the ``line`` channel."""
        return [CHANNEL]

    @ecrm.hookimpl
    def ecrm_receive(self, crm: ecrm.CRM, channel: str, payload: bytes | Mapping[str, Any],
                     headers: Mapping[str, str]) -> list[InboundMessage | InboundEvent] | None:
        """Read a LINE webhook: verify its signature, then turn its events into
        messages and events. None for other channels."""
        if channel != CHANNEL.name:
            return None
        if not isinstance(payload, bytes):
            raise ValidationError("payload", "pass the raw request body (bytes): the "
                                             "signature is computed over it")
        verify(payload, headers.get(SIGNATURE_HEADER), self._secret())
        return list(self.items(crm, webhook_events(payload)))

    def items(self, crm: ecrm.CRM, events: list[Any]
              ) -> Iterator[InboundMessage | InboundEvent]:
        """The messages and events of a webhook's ``events``, in order."""
        previous: dict[str, str] = {}  # userId -> id of their last message in this webhook
        for index, event in enumerate(events):
            item = self._item(event, f"payload.events[{index}]")
            if isinstance(item, InboundMessage):
                user_id = item.payload["line_user_id"]
                item = self._threaded(crm, item, previous.get(user_id))
                previous[user_id] = item.external_id
            if item is not None:
                yield item

    def _item(self, event: Any, field: str) -> InboundMessage | InboundEvent | None:
        if not isinstance(event, dict):
            raise ValidationError(field, "expected an object")
        kind = event.get("type")
        if kind != "message" and kind not in FOLLOW_KINDS:
            return None
        user_id = _user_id(event)
        sender = None if user_id is None else self._customer_for(user_id)
        if sender is None:
            return None
        at = _timestamp(event.get("timestamp"), f"{field}.timestamp")
        common = {"line_user_id": user_id}
        if kind in FOLLOW_KINDS:
            return InboundEvent(sender, FOLLOW_KINDS[kind], at,
                                external_id=_text(event, "webhookEventId", field),
                                payload=common)
        return _message(event, sender, at, common, field)

    def _threaded(self, crm: ecrm.CRM, message: InboundMessage, previous: str | None
                  ) -> InboundMessage:
        """``message`` continuing its conversation: the message it quotes, else the
        user's previous message in this webhook, else the customer's active LINE case."""
        if message.replies_to:
            return message
        if previous is not None:
            return attrs.evolve(message, replies_to=(previous,))
        return attrs.evolve(message, case_id=active_case(crm, message.sender))

    def _secret(self) -> str:
        secret = self._channel_secret or os.environ.get(ENV_SECRET)
        if not secret:
            raise ecrm.ECRMError(f"ecrm-line has no channel secret: set {ENV_SECRET} or "
                                 "pass LinePlugin(channel_secret=...)")
        return secret


def active_case(crm: ecrm.CRM, sender: Sender) -> str | None:
    """The id of the newest new, open or pending LINE case of the customer ``sender``
    names, or None (also when ``sender`` is no customer yet)."""
    customer = _customer(crm, sender)
    if customer is None:
        return None
    cases = crm.cases.for_customer(customer.id)  # oldest first
    return next((case.id for case in reversed(cases)
                 if case.channel == CHANNEL.name and case.status in ACTIVE_STATUSES), None)


def _customer(crm: ecrm.CRM, sender: Sender) -> ecrm.Customer | None:
    """The customer ``sender`` names, found as ``crm.inbound`` finds it."""
    if sender.customer_id is not None:
        try:
            return crm.customers.get(sender.customer_id)
        except ecrm.NotFound:
            return None
    if sender.external_id is not None:
        found = crm.customers.find(external_id=sender.external_id)
        if found is not None:
            return found
    return None if sender.email is None else crm.customers.find(email=sender.email)


def verify(body: bytes, given: str | None, channel_secret: str) -> None:
    """Check ``X-Line-Signature`` in constant time.

    :raises ValidationError: ``headers.x-line-signature`` when it is missing or does not
        match the body.
    """
    field = f"headers.{SIGNATURE_HEADER}"
    if not given:
        raise ValidationError(field, "is missing: LINE signs every webhook")
    if not hmac.compare_digest(given.encode(), signature(body, channel_secret).encode()):
        raise ValidationError(field, "does not match the body: not from LINE, or altered")


def webhook_events(body: bytes) -> list[Any]:
    """The ``events`` of a webhook body. :raises ValidationError: not a webhook."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError("payload", f"is not JSON: {error}") from None
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise ValidationError("payload.events", "a LINE webhook has a list of events")
    return events


def _message(event: dict[str, Any], sender: Sender, at: datetime, common: dict[str, Any],
             field: str) -> InboundMessage | None:
    message = event.get("message")
    if not isinstance(message, dict):
        raise ValidationError(f"{field}.message", "expected an object")
    if message.get("type") != "text":
        return None
    quoted = message.get("quotedMessageId")
    return InboundMessage(
        sender, _text(message, "text", f"{field}.message"), at,
        _text(message, "id", f"{field}.message"),
        replies_to=(quoted,) if isinstance(quoted, str) else (),
        payload={**common, "webhook_event_id": event.get("webhookEventId")})


def _user_id(event: dict[str, Any]) -> str | None:
    """The userId of a one-to-one chat's user; None for groups, rooms and unknowns."""
    source = event.get("source")
    if not isinstance(source, dict) or source.get("type") != "user":
        return None
    user_id = source.get("userId")
    return user_id if isinstance(user_id, str) and user_id else None


def _text(holder: dict[str, Any], key: str, field: str) -> str:
    value = holder.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field}.{key}", "expected a non-empty string")
    return value


def _timestamp(value: Any, field: str) -> datetime:
    """A LINE timestamp (milliseconds since the epoch) as an aware UTC datetime."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationError(field, f"expected milliseconds since 1970, got {value!r}")
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise ValidationError(field, f"{value} is past the year 9999") from None


#: The plugin the entry point ``line`` names: the secret from ``ECRM_LINE_CHANNEL_SECRET``,
#: LINE users mapped by :func:`linked_customer`.
plugin = LinePlugin()
