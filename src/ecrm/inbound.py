"""Inbound traffic (``crm.inbound``): a channel's webhook payload, read by the channel's
plugin, becomes case messages and interactions.

``receive`` runs in two phases. First it checks everything without writing: the channel,
the payload's size, what the plugin made of it, and who each sender is (and each named
case). Only then does it write, one item at a time, each in its own unit of work through
``crm.customers``, ``crm.cases`` and ``crm.interactions``. So bad input writes nothing;
and because every item is idempotent by its external id, a webhook delivered again (after
a timeout, or after a failure half-way) writes only what is still missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ecrm.domain import inbound as rules
from ecrm.domain.inbound import (
    InboundEvent,
    InboundItem,
    InboundMessage,
    InboundResult,
    Sender,
)
from ecrm.domain.interactions import known_channel
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.domain.cases import Case, CaseMessage
    from ecrm.domain.interactions import Interaction

#: Who an item is from: a stored customer's id, or the sender of a customer to create.
CustomerRef = str | Sender
#: The longest author name a case message keeps (a sender's name is cut to it).
MAX_AUTHOR = 128


class InboundService:
    """The ``crm.inbound`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def receive(self, channel: str, payload: bytes | str | Mapping[str, Any], *,
                headers: Mapping[str, str] | None = None) -> InboundResult:
        """Store what a channel delivered: the plugin that handles ``channel``
        (``ecrm_receive``) reads ``payload`` and ``headers``; its messages go to cases and
        its events become interactions.

        A message goes to the case it names (``case_id``), else to the case of the
        messages it answers (``replies_to``) when that case is the same customer's, else
        it opens a new case. A sender is found by customer id, external id or e-mail; an
        unknown sender with an e-mail becomes a new customer.

        Not one transaction: each item is written on its own, after every item was
        checked. Redelivery is safe: every item is idempotent by its external id, so the
        same payload again writes nothing and answers with what is stored.

        :raises ValidationError: ``channel`` (unknown, cannot receive, or no plugin reads
            it), ``payload`` (not bytes, str or a mapping; empty; larger than
            ``MAX_INBOUND_BYTES``; or what the plugin refused), ``headers``, ``items``
            (a plugin's answer is not a list of messages and events), ``sender...``
            (unknown sender without an e-mail), ``case_id`` or ``order_ids`` (no such
            case or order, or another customer's); nothing is written.
        :raises ConflictError: a case refused a message (a closed case whose policy
            rejects replies) or an external id was stored with other content; the items
            before it are stored, and redelivering the payload is safe.
        """
        name = self._receiving_channel(channel)
        items = self._read(name, rules.inbound_payload(payload), rules.header_map(headers))
        return self._store(name, self._plan(name, items))

    # -- checking ------------------------------------------------------------------------

    def _receiving_channel(self, channel: object) -> str:
        channels = self._crm.interactions.channels
        name = known_channel(channel, channels)
        if not channels[name].can_receive:
            raise ValidationError("channel", f"channel {name!r} does not receive messages "
                                             "(its can_receive is False)")
        return name

    def _read(self, channel: str, payload: bytes | Mapping[str, Any],
              headers: dict[str, str]) -> tuple[InboundItem, ...]:
        answer = self._crm.plugin_manager.hook.ecrm_receive(
            crm=self._crm, channel=channel, payload=payload, headers=headers)
        if answer is None:
            raise ValidationError("channel", f"no plugin reads channel {channel!r}: load "
                                             "its channel plugin (plugins=[...])")
        return rules.inbound_items(answer)

    def _plan(self, channel: str, items: tuple[InboundItem, ...]
              ) -> list[tuple[InboundItem, CustomerRef]]:
        """Each item with its customer, every sender found and every case and order a
        message names checked: what can be known before writing."""
        refs: dict[Sender, CustomerRef] = {}
        for item in items:  # each sender looked up once
            if item.sender not in refs:
                refs[item.sender] = self._customer_ref(item.sender, channel)
            if isinstance(item, InboundMessage):
                self._check_references(item, refs[item.sender])
        return [(item, refs[item.sender]) for item in items]

    def _customer_ref(self, sender: Sender, channel: str) -> CustomerRef:
        """The stored customer ``sender`` names, or ``sender`` itself when it is new."""
        customers = self._crm.customers
        if sender.customer_id is not None:
            try:
                return customers.get(sender.customer_id).id
            except NotFound:
                raise ValidationError("sender.customer_id",
                                      f"no customer {sender.customer_id!r}") from None
        for key in ("external_id", "email"):
            value = getattr(sender, key)
            found = None if value is None else customers.find(**{key: value})
            if found is not None:
                return found.id
        if sender.email is None:
            raise ValidationError("sender", f"no customer has external id "
                                            f"{sender.external_id!r}, and without an e-mail "
                                            f"no customer is made for a {channel} sender")
        return sender

    def _check_references(self, message: InboundMessage, ref: CustomerRef) -> None:
        """The case and the orders ``message`` names exist and are the sender's."""
        if message.case_id is not None:
            try:
                case = self._crm.cases.get(message.case_id)
            except NotFound:
                raise ValidationError("case_id", f"no case {message.case_id!r}") from None
            if case.customer_id != ref:
                raise ValidationError("case_id", f"case {message.case_id!r} belongs to "
                                                 "another customer than the message's sender")
        for order_id in message.order_ids:
            try:
                order = self._crm.orders.get(order_id)
            except NotFound:
                raise ValidationError("order_ids", f"no order {order_id!r}") from None
            if order.customer_id != ref:
                raise ValidationError("order_ids", f"order {order_id!r} belongs to another "
                                                   "customer than the message's sender")

    # -- writing -------------------------------------------------------------------------

    def _store(self, channel: str, plan: list[tuple[InboundItem, CustomerRef]]
               ) -> InboundResult:
        outcome = _Outcome()
        made: dict[str, str] = {}  # e-mail -> id of the customer this call created
        for item, ref in plan:
            customer_id = ref if isinstance(ref, str) else self._new_customer(ref, channel,
                                                                              made)
            if isinstance(item, InboundEvent):
                outcome.interactions.append(self._record(channel, customer_id, item))
            else:
                self._deliver(channel, customer_id, item, outcome)
        return InboundResult(cases_opened=tuple(outcome.cases_opened),
                             messages=tuple(outcome.messages),
                             interactions=tuple(outcome.interactions))

    def _new_customer(self, sender: Sender, channel: str, made: dict[str, str]) -> str:
        assert sender.email is not None
        if sender.email not in made:
            try:
                made[sender.email] = self._crm.customers.create(
                    email=sender.email, name=sender.name, external_id=sender.external_id,
                    acquisition_channel=channel).id
            except ConflictError:  # a concurrent delivery made the customer first
                found = self._crm.customers.find(email=sender.email)
                if found is None:
                    raise
                made[sender.email] = found.id
        return made[sender.email]

    def _record(self, channel: str, customer_id: str, event: InboundEvent) -> Interaction:
        return self._crm.interactions.record(
            customer_id, channel=channel, kind=event.kind, occurred_at=event.occurred_at,
            payload=event.payload, sku=event.sku, reference=event.reference,
            external_id=event.external_id)

    def _deliver(self, channel: str, customer_id: str, message: InboundMessage,
                 outcome: _Outcome) -> None:
        """Add ``message`` to its case, opening one when it has none (or when the case
        it answers takes no more customer messages), and link the orders it names."""
        case_id = self._known_case(customer_id, message)
        added = (self._add(case_id, channel, message) if case_id is not None
                 else self._add_to_answered(channel, customer_id, message))
        if added is None:
            case = self._crm.cases.open(
                customer_id, subject=message.title, channel=channel, body=message.body,
                occurred_at=message.occurred_at, author=_author(message),
                external_id=message.external_id, payload=message.payload,
                order_ids=message.order_ids or None)
            outcome.cases_opened.append(case)
            added = self._add(case.id, channel, message)  # a replay: the first message
        outcome.messages.append(added)
        for order_id in message.order_ids:  # linking a linked order changes nothing
            self._crm.cases.link_order(added.case_id, order_id)

    def _known_case(self, customer_id: str, message: InboundMessage) -> str | None:
        """The case already holding ``message`` (a redelivery), else the case it names."""
        held = self._crm.cases.thread_of([message.external_id])
        if held is None:
            return message.case_id
        if held.customer_id != customer_id:  # a sender can choose its ids (Message-ID)
            raise ConflictError(f"external id {message.external_id!r} belongs to a "
                                "message of another customer's case")
        return held.id

    def _add_to_answered(self, channel: str, customer_id: str, message: InboundMessage
                         ) -> CaseMessage | None:
        """``message`` added to the same customer's case of a message it answers, or None:
        no such case, or the case is closed to customer messages by the support policy
        (then the message opens a follow-up case)."""
        if not message.replies_to:
            return None
        answered = self._crm.cases.thread_of(message.replies_to)
        if answered is None or answered.customer_id != customer_id:
            return None
        try:
            return self._add(answered.id, channel, message)
        except ConflictError:
            if self._crm.cases.thread_of([message.external_id]) is not None:
                raise  # the id was stored meanwhile, with other content
            return None

    def _add(self, case_id: str, channel: str, message: InboundMessage) -> CaseMessage:
        return self._crm.cases.add_message(
            case_id, body=message.body, kind="inbound", channel=channel,
            occurred_at=message.occurred_at, author=_author(message),
            external_id=message.external_id, payload=message.payload)


def _author(message: InboundMessage) -> str | None:
    """The sender's name, cut to what a message's author keeps."""
    return (message.sender.name or "")[:MAX_AUTHOR] or None


class _Outcome:
    """What ``receive`` stored so far, in payload order."""

    def __init__(self) -> None:
        self.cases_opened: list[Case] = []
        self.messages: list[CaseMessage] = []
        self.interactions: list[Interaction] = []
