"""The transactional outbox: messages waiting to be delivered on a channel (e-mail, SMS,
a webhook), their retry schedule, and what the send gate may decide about each.

A message is written in the same transaction as the decision that caused it, then a
dispatcher claims it, hands it to its delivery channel outside any transaction, and
records the outcome. See ``docs/messages.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from ecrm.domain import validation as check
from ecrm.domain.personal import personal
from ecrm.errors import ValidationError

#: Longest idempotency key.
MAX_KEY = 128
#: Longest recipient address (an e-mail address, a phone number, a URL, a LINE id).
MAX_RECIPIENT = 320
#: Longest subject line.
MAX_SUBJECT = 500
#: Longest body, in characters.
MAX_BODY = 100_000
#: Longest campaign id, variant and journey step names.
MAX_CAMPAIGN_FIELD = 64
#: Longest error text kept on a message (longer ones are cut).
MAX_ERROR = 1000
#: Longest provider message id kept.
MAX_PROVIDER_ID = 200
#: Priorities run from 0 (lowest) to 9 (highest); higher ones are dispatched first.
PRIORITIES = range(10)


class MessageStatus(enum.StrEnum):
    """Where a message is in its life."""

    #: Waiting for its ``due_at``.
    PENDING = "pending"
    #: Claimed by a dispatcher until ``lease_until``.
    SENDING = "sending"
    #: Delivered; ``sent_at`` and ``provider_id`` say when and as what.
    SENT = "sent"
    #: Gave up (too many attempts, or a permanent error): the dead-letter state.
    DEAD = "dead"
    #: Cancelled by the shop or by the send gate; never sent.
    CANCELLED = "cancelled"


class Purpose(enum.StrEnum):
    """The well-known purposes; any identifier is accepted."""

    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"


@attrs.frozen
class OutboxMessage:
    """One message to deliver. ``key`` makes enqueueing idempotent (unique per tenant);
    ``id`` is passed to the channel as the provider's idempotency key. ``due_at`` is when
    it may next be tried; while it is being sent it is the end of the claim's lease."""

    id: str
    key: str
    customer_id: str | None
    channel: str
    purpose: str
    recipient: str = personal()
    subject: str | None = personal()
    body: str = personal()
    data: Mapping[str, Any] = personal()
    priority: int
    campaign_id: str | None
    variant: str | None
    step: str | None
    status: MessageStatus
    attempts: int
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None
    provider_id: str | None = None
    lease_until: datetime | None = None


def new_message(*, message_id: str, key: object, channel: object, purpose: object,
                customer_id: str | None, recipient: object, subject: object, body: object,
                data: object, priority: object, due_at: object, campaign_id: object,
                variant: object, step: object, now: datetime) -> OutboxMessage:
    """Validate an enqueue request and build its pending message (due ``due_at``, or
    ``now`` when None).

    :raises ValidationError: naming the first bad field.
    """
    return envelope(channel=channel, purpose=purpose, priority=priority, due_at=due_at,
                    campaign_id=campaign_id, variant=variant, step=step, now=now).message(
        message_id=message_id, key=key, customer_id=customer_id, recipient=recipient,
        subject=subject, body=body, data=data)


@attrs.frozen
class Envelope:
    """What the messages of a batch share (a campaign variant's channel, purpose,
    priority and due time), validated once by :func:`envelope`."""

    channel: str
    purpose: str
    priority: int
    campaign_id: str | None
    variant: str | None
    step: str | None
    due_at: datetime
    created_at: datetime

    def message(self, *, message_id: str, key: object, customer_id: str | None,
                recipient: object, subject: object, body: object, data: object
                ) -> OutboxMessage:
        """The pending message to one recipient, after checking its own fields.

        :raises ValidationError: naming the first bad field.
        """
        return OutboxMessage(
            id=message_id, key=check.required_text("key", key, MAX_KEY),
            customer_id=customer_id, channel=self.channel, purpose=self.purpose,
            recipient=check.required_text("recipient", recipient, MAX_RECIPIENT),
            subject=check.text("subject", subject, MAX_SUBJECT), body=_body(body),
            data=check.json_mapping("data", data), priority=self.priority,
            campaign_id=self.campaign_id, variant=self.variant, step=self.step,
            status=MessageStatus.PENDING, attempts=0, due_at=self.due_at,
            created_at=self.created_at)


def envelope(*, channel: object, purpose: object, priority: object, due_at: object,
             campaign_id: object, variant: object, step: object, now: datetime) -> Envelope:
    """Validate the fields a batch of messages shares (due ``due_at``, or ``now`` when
    None). :raises ValidationError: naming the first bad field."""
    return Envelope(
        channel=check.identifier("channel", channel),
        purpose=check.identifier("purpose", purpose), priority=_priority(priority),
        campaign_id=check.text("campaign_id", campaign_id, MAX_CAMPAIGN_FIELD),
        variant=check.text("variant", variant, MAX_CAMPAIGN_FIELD),
        step=check.text("step", step, MAX_CAMPAIGN_FIELD),
        due_at=check.aware("due_at", due_at, required=False) or now, created_at=now)


def _body(value: object) -> str:
    """The body as given (not stripped: leading spaces may matter), non-blank."""
    check.required_text("body", value, MAX_BODY)
    assert isinstance(value, str)
    return value


def _priority(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value not in PRIORITIES:
        raise ValidationError("priority", f"must be an integer from 0 to 9, got {value!r}")
    return value


#: The fields a replay of an enqueue must repeat to count as the same message.
CONTENT_FIELDS = ("customer_id", "channel", "purpose", "recipient", "subject", "body",
                  "data", "priority", "campaign_id", "variant", "step")


def same_request(stored: OutboxMessage, candidate: OutboxMessage, *, due_given: bool) -> bool:
    """True when ``candidate`` repeats the request ``stored`` was made from (the due
    time too, when the caller gave one)."""
    if due_given and candidate.due_at != stored.due_at:
        return False
    return all(getattr(stored, name) == getattr(candidate, name) for name in CONTENT_FIELDS)


def error_text(error: BaseException | str) -> str:
    """An error as kept on a message: its type and text, cut to ``MAX_ERROR``."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return text[:MAX_ERROR]


# -- retries ---------------------------------------------------------------------------


@attrs.frozen
class RetryPolicy:
    """How often a message is tried and how long to wait between tries: after the n-th
    failed try the wait is ``base * factor ** (n - 1)``, at most ``cap``. After
    ``max_attempts`` tries the message is dead. Deterministic: no jitter, so tests and
    replays see the same schedule."""

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base: timedelta = timedelta(minutes=1)
    factor: float = attrs.field(default=2, validator=attrs.validators.ge(1))
    cap: timedelta = timedelta(hours=6)

    def delay(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed tries (1 or more)."""
        wait = self.base * (self.factor ** (attempts - 1)) if attempts < 64 else self.cap
        return min(wait, self.cap)

    def next_try(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` tries failed at ``now``; None when the
        message has had all its tries."""
        if attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts)


# -- the send gate's answers -------------------------------------------------------------


@attrs.frozen
class Send:
    """The gate lets the message go now."""


@attrs.frozen
class Defer:
    """The gate holds the message until ``until`` (quiet hours, a frequency cap); no
    attempt is counted."""

    until: datetime
    reason: str


@attrs.frozen
class Cancel:
    """The gate stops the message for good (no consent, an unsubscribed address)."""

    reason: str


#: What a send gate returns.
GateDecision = Send | Defer | Cancel


# -- outcomes ---------------------------------------------------------------------------


def sent(message: OutboxMessage, now: datetime, provider_id: str | None) -> OutboxMessage:
    """``message`` after a successful try."""
    return attrs.evolve(message, status=MessageStatus.SENT, attempts=message.attempts + 1,
                        sent_at=now, provider_id=_provider_id(provider_id),
                        due_at=now, lease_until=None)


def failed(message: OutboxMessage, now: datetime, error: str, *, permanent: bool,
           policy: RetryPolicy) -> OutboxMessage:
    """``message`` after a failed try: pending again at the policy's next time, or dead
    when the error is permanent or the tries are used up."""
    attempts = message.attempts + 1
    retry_at = None if permanent else policy.next_try(attempts, now)
    if retry_at is None:
        return attrs.evolve(message, status=MessageStatus.DEAD, attempts=attempts,
                            last_error=error_text(error), due_at=now, lease_until=None)
    return attrs.evolve(message, status=MessageStatus.PENDING, attempts=attempts,
                        last_error=error_text(error), due_at=retry_at, lease_until=None)


def deferred(message: OutboxMessage, decision: Defer) -> OutboxMessage:
    """``message`` held back by the gate until ``decision.until``."""
    return attrs.evolve(message, status=MessageStatus.PENDING, due_at=decision.until,
                        lease_until=None, last_error=error_text(decision.reason))


def cancelled(message: OutboxMessage, reason: str, now: datetime) -> OutboxMessage:
    """``message`` stopped for good, with the reason."""
    return attrs.evolve(message, status=MessageStatus.CANCELLED, due_at=now,
                        lease_until=None, last_error=error_text(reason))


def revived(message: OutboxMessage, now: datetime) -> OutboxMessage:
    """A dead message pending again, due now, with a fresh count of tries."""
    return attrs.evolve(message, status=MessageStatus.PENDING, attempts=0, due_at=now,
                        lease_until=None)


def _provider_id(value: object) -> str | None:
    if value is None:
        return None
    return str(value)[:MAX_PROVIDER_ID]


@attrs.frozen
class DispatchReport:
    """What one ``crm.messages.dispatch`` run did, as message ids per outcome. A message
    whose claim was lost meanwhile (its lease ran out and another dispatcher took it) is
    in none of them."""

    sent_ids: tuple[str, ...] = ()
    retried_ids: tuple[str, ...] = ()
    dead_ids: tuple[str, ...] = ()
    deferred_ids: tuple[str, ...] = ()
    cancelled_ids: tuple[str, ...] = ()

    @property
    def sent(self) -> int:
        """How many messages were delivered."""
        return len(self.sent_ids)

    @property
    def retried(self) -> int:
        """How many failed and wait for another try."""
        return len(self.retried_ids)

    @property
    def dead(self) -> int:
        """How many went to the dead letters."""
        return len(self.dead_ids)

    @property
    def deferred(self) -> int:
        """How many the gate held back."""
        return len(self.deferred_ids)

    @property
    def cancelled(self) -> int:
        """How many the gate cancelled."""
        return len(self.cancelled_ids)

    @property
    def claimed(self) -> int:
        """How many messages the run took on."""
        return self.sent + self.retried + self.dead + self.deferred + self.cancelled
