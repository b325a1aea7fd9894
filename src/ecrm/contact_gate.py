"""The send gate that holds every outgoing message to the shop's contact policy.

``CRM(contact=ContactPolicy(...))`` installs it as ``crm.messages.gate``. The dispatcher
asks it about each claimed batch inside the claiming unit of work. Per customer it takes
the customer's lock first (in id order, so two dispatchers cannot deadlock), then reads
their consent, the suppression list, their time zone and the messages already sent or
in flight, and decides the batch's messages for them in dispatch order, counting each
one it lets go. A claim commits its decisions with it, so whoever takes a customer's
lock next sees every message let go before: frequency caps hold across concurrent
dispatchers too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from ecrm.backends.base import UnitOfWork
from ecrm.domain.contact_policy import Contact, ContactPolicy, SentMessage, decide
from ecrm.domain.outbox import Cancel, GateDecision, OutboxMessage, Send
from ecrm.domain.suppression import Suppression
from ecrm.domain.suppression import address as suppression_key
from ecrm.errors import ValidationError


class ContactGate:
    """Consent, the suppression list, quiet hours and frequency caps, asked right before
    each message goes out (see :mod:`ecrm.domain.contact_policy`)."""

    def __init__(self, policy: ContactPolicy) -> None:
        self.policy = policy

    def __call__(self, uow: UnitOfWork, message: OutboxMessage, now: datetime
                 ) -> GateDecision:
        """The decision on one message (a batch of one)."""
        return self.decide_batch(uow, [message], now)[0]

    def decide_batch(self, uow: UnitOfWork, messages: Sequence[OutboxMessage],
                     now: datetime) -> list[GateDecision]:
        """The decisions on a claimed batch, in its order."""
        by_customer: dict[str | None, list[int]] = defaultdict(list)
        for index, message in enumerate(messages):
            by_customer[message.customer_id].append(index)
        decisions: dict[int, GateDecision] = {}
        for customer_id in sorted(by_customer, key=lambda c: (c is not None, c or "")):
            batch = [messages[i] for i in by_customer[customer_id]]
            found = (self._for_customer(uow, customer_id, batch, now)
                     if customer_id is not None else
                     [self._without_customer(uow, m, now) for m in batch])
            decisions.update(zip(by_customer[customer_id], found, strict=True))
        return [decisions[i] for i in range(len(messages))]

    def _for_customer(self, uow: UnitOfWork, customer_id: str,
                      batch: list[OutboxMessage], now: datetime) -> list[GateDecision]:
        """Decide one customer's messages of the batch, counting those let go."""
        uow.customers.lock(customer_id)
        customer = uow.customers.get(customer_id)
        zone = self.policy.zone_of({} if customer is None else customer.attributes)
        claimed = {m.id for m in batch}
        sent = [SentMessage(m.channel, m.purpose, m.sent_at or now) for m in uow.outbox.recent(
            customer_id, now - self.policy.longest_window) if m.id not in claimed]
        decisions: list[GateDecision] = []
        for message in batch:
            contact = Contact(message.channel, message.purpose,
                              uow.consents.get(customer_id, message.channel, message.purpose),
                              _suppression(uow, message), zone)
            decision = decide(self.policy, contact, now, sent)
            if isinstance(decision, Send):
                sent.append(SentMessage(message.channel, message.purpose, now))
            decisions.append(decision)
        return decisions

    def _without_customer(self, uow: UnitOfWork, message: OutboxMessage, now: datetime
                          ) -> GateDecision:
        """A message to a bare address: only transactional ones, never to a suppressed
        address, and within quiet hours by the policy's time zone."""
        if message.purpose != "transactional":
            return Cancel(f"{message.purpose} messages need a customer's consent")
        contact = Contact(message.channel, message.purpose, None, _suppression(uow, message),
                          ZoneInfo(self.policy.timezone))
        return decide(self.policy, contact, now, [])


def _suppression(uow: UnitOfWork, message: OutboxMessage) -> Suppression | None:
    try:
        key = suppression_key(message.channel, message.recipient)
    except ValidationError:
        return None  # not an address the list could hold
    return uow.suppressions.get(message.channel, key)

