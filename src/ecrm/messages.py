"""Outgoing messages (``crm.messages``): the transactional outbox and its dispatcher.

A message is enqueued in the same unit of work as whatever decided to send it, so it is
sent if and only if that decision committed. ``dispatch`` (run it from a scheduler)
claims due messages in one short transaction, asks the send gate about each, hands the
ones it lets go to their delivery channel outside any transaction, and records each
outcome in a short transaction of its own: sent (with an interaction on the customer's
timeline), retried later on the backoff schedule, or dead. See ``docs/messages.md``.

Concurrent dispatchers never claim the same message. Delivery is exactly once unless a
dispatcher dies (or outlives its lease) between claiming and recording: the message is
claimed again once the lease has run out, and the channel gets the same ``message.id``
as its idempotency key so the provider can drop the duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ecrm import message_events as events
from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import outbox as rules
from ecrm.domain import validation as check
from ecrm.domain.ids import new_id
from ecrm.domain.interactions import Interaction, InteractionKind, build_interaction
from ecrm.domain.outbox import (
    Cancel,
    Defer,
    DispatchReport,
    GateDecision,
    MessageStatus,
    OutboxMessage,
    RetryPolicy,
    Send,
)
from ecrm.errors import ConflictError, DeliveryError, NotFound, ValidationError
from ecrm.message_events import MessageEvent

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.domain.customers import Customer

log = logging.getLogger("ecrm.messages")

#: The send gate: asked about every claimed message, inside the claiming unit of work.
Gate = Callable[[UnitOfWork, OutboxMessage, datetime], GateDecision]

#: Which customer field a message on a channel goes to when no recipient is given.
RECIPIENT_FIELDS = {"email": "email", "sms": "phone"}

#: Most messages one listing returns.
MAX_LIST = 10_000


class DeliveryChannel(Protocol):
    """What ``ecrm_delivery_channels`` contributes: delivers messages of one channel."""

    name: str

    def send(self, message: OutboxMessage) -> str | None:
        """Deliver ``message`` and return the provider's id for it (or None).
        :raises ecrm.DeliveryError: it was not delivered."""


def send_everything(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> GateDecision:
    """The default gate: every message may go."""
    return Send()


@attrs.frozen
class _Outcome:
    """How one try went: a provider id, or an error and whether it is permanent."""

    provider_id: str | None = None
    error: str | None = None
    permanent: bool = False


class MessageService:
    """The ``crm.messages`` capability.

    :ivar gate: the send gate, ``(uow, message, now) -> Send() | Defer(until, reason) |
        Cancel(reason)``; the default lets everything go.
    :ivar retry_policy: the tries and backoff of failed deliveries.
    :ivar lease: how long a claim lasts; keep it well above a channel's send timeout.
    """

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
        self.gate: Gate = send_everything
        self.retry_policy = RetryPolicy()
        self.lease = timedelta(minutes=5)
        self._channels: dict[str, DeliveryChannel] | None = None

    @property
    def channels(self) -> Mapping[str, DeliveryChannel]:
        """The delivery channels plugins contribute (``ecrm_delivery_channels``), by name,
        gathered once. :raises ValidationError: two channels of the same name."""
        if self._channels is None:
            self._channels = _gather_channels(self._crm)
        return self._channels

    # -- enqueueing ------------------------------------------------------------------

    def send(self, *, key: str, channel: str, purpose: str, customer_id: str | None = None,
             recipient: str | None = None, subject: str | None = None, body: str,
             data: Mapping[str, Any] | None = None, priority: int = 5,
             due_at: datetime | None = None, campaign_id: str | None = None,
             variant: str | None = None, step: str | None = None) -> OutboxMessage:
        """Enqueue one message for delivery (due now, or at ``due_at``). Idempotent by
        ``key``: the same request again returns the stored message and writes nothing.
        Without ``recipient`` it goes to the customer's e-mail address (channel
        ``email``) or phone number (``sms``).

        :raises ValidationError: a bad field (named), or no recipient to be found.
        :raises NotFound: no such customer.
        :raises ConflictError: ``key`` was used for another message.
        """
        fields = {"key": key, "channel": channel, "purpose": purpose, "subject": subject,
                  "body": body, "data": data, "priority": priority, "due_at": due_at,
                  "campaign_id": campaign_id, "variant": variant, "step": step}
        rules.new_message(message_id="", customer_id=None, recipient="-",
                          now=self._crm.clock.now(), **fields)  # bad input fails early
        wanted = None if customer_id is None else check.required_text(
            "customer_id", customer_id, 128)

        def work(uow: UnitOfWork) -> OutboxMessage:
            customer = None if wanted is None else resolve_customer(uow, wanted)
            message = rules.new_message(
                message_id=new_id(), customer_id=None if customer is None else customer.id,
                recipient=recipient if recipient is not None else _address(customer, channel),
                now=self._crm.clock.now(), **fields)
            return self._store(uow, [message], due_given=due_at is not None)[0]

        return self._crm.transact(work, replay_on_duplicate=True)

    def enqueue(self, uow: UnitOfWork, messages: Iterable[OutboxMessage], *,
                fresh: bool = False) -> list[OutboxMessage]:
        """Add messages (built with :func:`ecrm.domain.outbox.new_message`) inside the
        caller's unit of work, so they are sent only if it commits. Keys already stored
        with the same content are replays (the stored message is returned); the bulk path
        for campaigns: one look-up of the keys and batched inserts.

        :raises ValidationError: something other than an ``OutboxMessage``.
        :raises NotFound: a message names a customer that does not exist.
        :raises ConflictError: a key stored (or given twice) with other content.

        ``fresh=True`` is for a caller that read the messages' customers in the same
        unit of work and knows their keys are new (a campaign chunk after its cursor):
        nothing is looked up, and a key stored already fails the unit of work
        (``DuplicateKey``) instead of replaying.
        """
        return self._store(uow, list(messages), due_given=False, fresh=fresh)

    # -- dispatching -----------------------------------------------------------------

    def dispatch(self, *, limit: int = 100, now: datetime | None = None,
                 worker: str | None = None) -> DispatchReport:
        """Deliver up to ``limit`` due messages, highest priority first, then the
        earliest due; run it from a scheduler, as often and in as many processes as you
        like. ``now`` replaces the clock's time for the whole run; ``worker`` names this
        dispatcher in the log.

        A channel's :class:`ecrm.DeliveryError` (or any other exception) is a failed try:
        retried at the backoff time, dead after ``retry_policy.max_attempts`` tries or a
        permanent error. A message whose channel is not installed here goes dead ("no
        delivery channel ..."); install it and :meth:`retry` the message.
        """
        check.positive_int("limit", limit)
        fixed = check.aware("now", now, required=False)
        channels = self.channels  # before claiming: a plugin error must not strand claims
        start = fixed or self._crm.clock.now()
        lease_until = start + self.lease
        to_send, deferred, cancelled = self._crm.transact(
            lambda uow: self._claim(uow, start, limit, lease_until))
        outcomes: dict[MessageStatus, list[str]] = {status: [] for status in MessageStatus}
        for message in to_send:
            result = self._attempt(channels.get(message.channel), message, worker)
            stored = self._crm.transact(lambda uow, m=message, r=result: self._settle(
                uow, m, r, fixed or self._crm.clock.now(), lease_until))
            if stored is not None:
                outcomes[stored.status].append(stored.id)
        return DispatchReport(
            sent_ids=tuple(outcomes[MessageStatus.SENT]),
            retried_ids=tuple(outcomes[MessageStatus.PENDING]),
            dead_ids=tuple(outcomes[MessageStatus.DEAD]), deferred_ids=deferred,
            cancelled_ids=cancelled)

    # -- the shop's operations -------------------------------------------------------

    def retry(self, message_id: str) -> OutboxMessage:
        """Put a dead message back to pending, due now, with a fresh count of tries.
        :raises NotFound: no such message. :raises ConflictError: it is not dead."""
        return self._change(message_id, {MessageStatus.DEAD},
                            lambda m: rules.revived(m, self._crm.clock.now()))

    def cancel(self, message_id: str, *, reason: str = "cancelled") -> OutboxMessage:
        """Stop a pending message for good (a cancelled one is returned as it is).
        :raises NotFound: no such message. :raises ConflictError: it is being sent, sent
        or dead."""
        why = check.required_text("reason", reason, rules.MAX_ERROR)
        return self._change(message_id, {MessageStatus.PENDING, MessageStatus.CANCELLED},
                            lambda m: m if m.status == MessageStatus.CANCELLED
                            else rules.cancelled(m, why, self._crm.clock.now()))

    # -- after delivery ----------------------------------------------------------------

    def opened(self, message_id: str, *, at: datetime | None = None) -> Interaction:
        """Record that the recipient opened a sent message (a tracking pixel, a read
        receipt): an ``email_opened`` (or ``message_opened``) interaction, once per
        message. :raises NotFound: no such message; :raises ConflictError: not sent."""
        return events.record(self._crm, message_id, MessageEvent.OPENED, at=at)

    def clicked(self, message_id: str, *, url: str | None = None,
                at: datetime | None = None) -> Interaction:
        """Record that the recipient followed a link of a sent message (the first
        click counts; later ones return it)."""
        return events.record(self._crm, message_id, MessageEvent.CLICKED, at=at, url=url)

    def bounced(self, message_id: str, *, permanent: bool = True, reason: str | None = None,
                at: datetime | None = None) -> Interaction:
        """Record that a sent message bounced; a ``permanent`` (hard) bounce also puts
        the address on the suppression list."""
        return events.record(self._crm, message_id, MessageEvent.BOUNCED, at=at,
                             reason=reason, suppress=permanent)

    def cancel_campaign(self, uow: UnitOfWork, campaign_id: str, reason: str) -> int:
        """Inside ``uow``: cancel every pending message of the campaign; how many."""
        now, count = self._crm.clock.now(), 0
        while batch := uow.outbox.find(status=MessageStatus.PENDING, campaign_id=campaign_id,
                                       customer_id=None, limit=MAX_LIST):
            for message in batch:
                uow.outbox.replace(rules.cancelled(message, reason, now))
            count += len(batch)
        return count

    def get(self, message_id: str) -> OutboxMessage:
        """The message. :raises NotFound: no such message in this tenant."""
        found = self._crm.transact(lambda uow: uow.outbox.get(message_id), read_only=True)
        if found is None:
            raise NotFound("message", message_id)
        return found

    def for_customer(self, customer_id: str, *, limit: int = 1000) -> list[OutboxMessage]:
        """The customer's messages, oldest first. :raises NotFound: no such customer."""
        check.positive_int("limit", limit)
        return self._crm.transact(lambda uow: uow.outbox.find(
            status=None, campaign_id=None, limit=min(limit, MAX_LIST),
            customer_id=resolve_customer(uow, customer_id).id), read_only=True)

    def list(self, *, status: str | None = None, campaign_id: str | None = None,
             limit: int = 100) -> list[OutboxMessage]:
        """Up to ``limit`` messages (at most ``MAX_LIST``) with ``status`` and of
        ``campaign_id`` when given, oldest first."""
        wanted = None if status is None else check.choice(MessageStatus, "status")(status)
        check.positive_int("limit", limit)
        return self._crm.transact(lambda uow: uow.outbox.find(
            status=wanted, campaign_id=campaign_id, customer_id=None,
            limit=min(limit, MAX_LIST)), read_only=True)

    def counts(self, campaign_id: str | None = None) -> dict[str, int]:
        """How many messages are in each status (every status named, zeros too), of
        ``campaign_id`` when given."""
        found = self._crm.transact(lambda uow: uow.outbox.counts(campaign_id),
                                   read_only=True)
        return {str(status): found.get(str(status), 0) for status in MessageStatus}

    # -- helpers ---------------------------------------------------------------------

    def _store(self, uow: UnitOfWork, messages: list[OutboxMessage], *, due_given: bool,
               fresh: bool = False) -> list[OutboxMessage]:
        """Insert the messages whose keys are new; the stored one for replays."""
        batch = _by_key(messages)
        if fresh:
            uow.outbox.add_many(list(batch.values()))
            return [batch[m.key] for m in messages]
        _check_customers(uow, batch.values())
        stored = uow.outbox.by_keys(batch.keys())
        for key, message in batch.items():
            old = stored.get(key)
            if old is not None and not rules.same_request(old, message, due_given=due_given):
                raise ConflictError(f"message key {key!r} was used for another message")
        uow.outbox.add_many([m for key, m in batch.items() if key not in stored])
        return [stored.get(m.key) or batch[m.key] for m in messages]

    def _claim(self, uow: UnitOfWork, now: datetime, limit: int, lease_until: datetime
               ) -> tuple[list[OutboxMessage], tuple[str, ...], tuple[str, ...]]:
        """Claim due messages and apply the gate: those to send, deferred, cancelled."""
        to_send, deferred, cancelled = [], [], []
        claimed = uow.outbox.claim_due(now, limit, lease_until)
        for message, decision in zip(claimed, self._decide(uow, claimed, now), strict=True):
            if isinstance(decision, Send):
                to_send.append(message)
            elif isinstance(decision, Defer):
                uow.outbox.settle(rules.deferred(message, _checked(decision, now)),
                                  lease_until)
                deferred.append(message.id)
            elif isinstance(decision, Cancel):
                uow.outbox.settle(rules.cancelled(message, decision.reason, now), lease_until)
                cancelled.append(message.id)
            else:
                raise ValidationError("gate", f"returned {decision!r}; expected Send(), "
                                              "Defer(until, reason) or Cancel(reason)")
        return to_send, tuple(deferred), tuple(cancelled)

    def _decide(self, uow: UnitOfWork, claimed: list[OutboxMessage], now: datetime
                ) -> list[GateDecision]:
        """The gate's decisions on a claimed batch: at once when the gate decides
        batches (``decide_batch``, as the contact gate does), else one by one."""
        decide_batch = getattr(self.gate, "decide_batch", None)
        if decide_batch is not None:
            return list(decide_batch(uow, claimed, now))
        return [self.gate(uow, message, now) for message in claimed]

    def _attempt(self, channel: DeliveryChannel | None, message: OutboxMessage,
                 worker: str | None) -> _Outcome:
        """Hand the message to its channel, outside any transaction."""
        if channel is None:
            return _Outcome(error=f"no delivery channel named {message.channel!r}",
                            permanent=True)
        try:
            return _Outcome(provider_id=channel.send(message))
        except DeliveryError as error:
            return _Outcome(error=error.reason, permanent=error.permanent)
        except Exception as error:  # noqa: BLE001 - any failure is a try to repeat
            log.warning("worker %s: channel %s failed on message %s", worker or "-",
                        message.channel, message.id, exc_info=True)
            return _Outcome(error=rules.error_text(error))

    def _settle(self, uow: UnitOfWork, message: OutboxMessage, outcome: _Outcome,
                now: datetime, lease_until: datetime) -> OutboxMessage | None:
        """Record a try's outcome; None when the claim was lost meanwhile."""
        if outcome.error is None:
            result = rules.sent(message, now, outcome.provider_id)
        else:
            result = rules.failed(message, now, outcome.error, permanent=outcome.permanent,
                                  policy=self.retry_policy)
        if not uow.outbox.settle(result, lease_until):
            log.warning("message %s: the claim ran out before its result came", message.id)
            return None
        if result.status == MessageStatus.SENT:
            self._add_interaction(uow, result, now)
            self._crm.notify_after_commit(uow, "ecrm_message_sent", message=result)
        elif result.status == MessageStatus.DEAD:
            self._crm.notify_after_commit(uow, "ecrm_message_dead", message=result)
        return result

    def _add_interaction(self, uow: UnitOfWork, message: OutboxMessage, now: datetime
                         ) -> None:
        """Put the sent message on the customer's timeline (once: its id is the
        interaction's external id)."""
        if message.customer_id is None:
            return
        known = self._crm.interactions.channels
        channel = message.channel if message.channel in known else "other"
        if uow.interactions.by_external_id(channel, message.id) is not None:
            return
        interaction = build_interaction(
            interaction_id=new_id(), customer_id=message.customer_id, channel=channel,
            kind=InteractionKind.EMAIL_SENT if message.channel == "email"
            else InteractionKind.MESSAGE_OUT, occurred_at=now, recorded_at=now,
            channels=known, payload=_interaction_payload(message), reference=message.id,
            external_id=message.id)
        uow.interactions.add(interaction)
        self._crm.notify_after_commit(uow, "ecrm_interaction_recorded",
                                      interaction=interaction)

    def _change(self, message_id: str, allowed: set[MessageStatus],
                change: Callable[[OutboxMessage], OutboxMessage]) -> OutboxMessage:
        """Apply ``change`` to the locked message if its status is ``allowed``."""
        def work(uow: UnitOfWork) -> OutboxMessage:
            message = uow.outbox.get(message_id, for_update=True)
            if message is None:
                raise NotFound("message", message_id)
            if message.status not in allowed:
                raise ConflictError(f"message {message_id!r} is {message.status}")
            changed = change(message)
            if changed != message:
                uow.outbox.replace(changed)
            return changed

        return self._crm.transact(work)


def _address(customer: Customer | None, channel: str) -> str:
    """The customer's address on ``channel``, for a message without a recipient."""
    field = RECIPIENT_FIELDS.get(channel)
    if customer is None or field is None:
        raise ValidationError("recipient", "is required unless a customer is given and the "
                                           "channel is 'email' or 'sms'")
    address = getattr(customer, field)
    if address is None:
        raise ValidationError("recipient", f"customer {customer.id!r} has no {field}")
    return str(address)


def _by_key(messages: list[OutboxMessage]) -> dict[str, OutboxMessage]:
    """The messages by key; a key given twice must carry the same message."""
    batch: dict[str, OutboxMessage] = {}
    for message in messages:
        if not isinstance(message, OutboxMessage):
            raise ValidationError("messages", f"expected OutboxMessage objects, got "
                                              f"{type(message).__name__}")
        first = batch.setdefault(message.key, message)
        if first is not message and not rules.same_request(first, message, due_given=False):
            raise ConflictError(f"message key {message.key!r} is given twice with other "
                                "content")
    return batch


def _check_customers(uow: UnitOfWork, messages: Iterable[OutboxMessage]) -> None:
    wanted = {m.customer_id for m in messages if m.customer_id is not None}
    missing = wanted - set(uow.customers.get_many(wanted)) if wanted else set()
    if missing:
        raise NotFound("customer", min(missing))


def _checked(decision: Defer, now: datetime) -> Defer:
    until = check.aware("gate", decision.until)
    assert until is not None
    if until <= now:
        raise ValidationError("gate", f"Defer.until must be later than now ({now}), got "
                                      f"{until}")
    return attrs.evolve(decision, until=until)


def _interaction_payload(message: OutboxMessage) -> dict[str, str]:
    fields = {"purpose": message.purpose, "campaign_id": message.campaign_id,
              "variant": message.variant, "step": message.step}
    return {name: value for name, value in fields.items() if value is not None}


def _gather_channels(crm: CRM) -> dict[str, DeliveryChannel]:
    found: dict[str, DeliveryChannel] = {}
    for contributed in crm.plugin_manager.hook.ecrm_delivery_channels(crm=crm):
        for channel in contributed or ():
            name = check.identifier("channel", getattr(channel, "name", None))
            if name in found:
                raise ValidationError("plugins", f"two delivery channels named {name!r}")
            if not callable(getattr(channel, "send", None)):
                raise ValidationError("plugins", f"delivery channel {name!r} has no "
                                                 "send(message) method")
            found[name] = channel
    return found
