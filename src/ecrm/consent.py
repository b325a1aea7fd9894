"""Marketing consent (``crm.consent``): may the shop market to a customer on a channel?

Opt-in: a customer has consented on a channel only after a grant, and no record means
not granted. Every decision is kept in an append-only history; the current state is the
latest decision by time (at the same instant a withdrawal wins), so imports that arrive
out of order converge. A merge keeps, per channel, the winning decision of the two
customers. Changes of the current state fire ``ecrm_consent_changed`` after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.customers import lock_customer, resolve_customer
from ecrm.domain import consent as rules
from ecrm.domain.consent import Consent, ConsentChange
from ecrm.domain.ids import new_id

if TYPE_CHECKING:
    from ecrm.crm import CRM


class ConsentService:
    """The ``crm.consent`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def grant(self, customer_id: str, channel: str, *, source: str | None = None,
              at: datetime | None = None) -> Consent:
        """Record that the customer agreed to marketing on ``channel`` (at ``at``,
        default now; pass an earlier time to import past decisions) and return the
        channel's current state, which is this grant unless a later decision (or a
        withdrawal at the same instant) is stored. The same grant with the same ``at``
        writes nothing; a later grant of a granted channel renews it.

        :raises NotFound: no such customer.
        :raises ValidationError: a malformed ``channel`` or ``source``, a naive ``at``, or
            an ``at`` more than :data:`~ecrm.domain.consent.MAX_CLOCK_SKEW` ahead of now.
        """
        return self._decide(customer_id, channel, True, source, at)

    def withdraw(self, customer_id: str, channel: str, *, source: str | None = None,
                 at: datetime | None = None) -> Consent:
        """Record that the customer withdrew (or refused) consent on ``channel``; the
        counterpart of :meth:`grant`, with the same rules and errors."""
        return self._decide(customer_id, channel, False, source, at)

    def get(self, customer_id: str, channel: str) -> Consent | None:
        """The customer's current state on ``channel``, or None when they never decided
        there. :raises NotFound: no such customer."""
        name = rules.channel(channel)
        return self._crm.transact(
            lambda uow: uow.consents.get(resolve_customer(uow, customer_id).id, name),
            read_only=True)

    def is_granted(self, customer_id: str, channel: str) -> bool:
        """True only when the customer's current state on ``channel`` is a grant."""
        found = self.get(customer_id, channel)
        return found is not None and found.granted

    def for_customer(self, customer_id: str) -> list[Consent]:
        """The customer's current states, by channel. :raises NotFound: no such
        customer."""
        return self._crm.transact(
            lambda uow: uow.consents.for_customer(resolve_customer(uow, customer_id).id),
            read_only=True)

    def history(self, customer_id: str, channel: str | None = None) -> list[ConsentChange]:
        """Every recorded decision of the customer (on ``channel`` only, when given),
        oldest first by decision time; a merge brings the duplicate's along.
        :raises NotFound: no such customer."""
        name = None if channel is None else rules.channel(channel)
        return self._crm.transact(
            lambda uow: uow.consents.history(resolve_customer(uow, customer_id).id, name),
            read_only=True)

    # -- inside other units of work ----------------------------------------------------

    def absorb(self, uow: UnitOfWork, survivor_id: str, duplicate_id: str) -> None:
        """After a merge: per channel the survivor keeps the winning decision of the two
        (the later; at the same instant a withdrawal); the duplicate's states go. Their
        history has moved with the merge already."""
        taken = uow.consents.for_customer(duplicate_id)
        if not taken:
            return
        uow.consents.delete_for_customer(duplicate_id)
        kept = uow.consents.for_customer(survivor_id)
        for consent, previous in rules.absorbed(kept, taken, survivor_id):
            uow.consents.put(consent)
            self._notify(uow, consent, previous)

    # -- helpers ---------------------------------------------------------------------

    def _decide(self, customer_id: str, channel: str, granted: bool, source: str | None,
                at: datetime | None) -> Consent:
        """Check everything, then record the decision in one unit of work."""
        now = self._crm.clock.now()
        name, origin = rules.channel(channel), rules.source(source)
        when = rules.decided_at(at, now)

        def work(uow: UnitOfWork) -> Consent:
            decision = Consent(lock_customer(uow, customer_id), name, granted, when, origin)
            return self._record(uow, decision, now)

        return self._crm.transact(work)

    def _record(self, uow: UnitOfWork, decision: Consent, now: datetime) -> Consent:
        """Make the decision the (locked) customer's state if it wins, and append it to
        their history unless it is there already; return the state."""
        current = uow.consents.get(decision.customer_id, decision.channel)
        if rules.supersedes(decision, current):
            self._add_change(uow, decision, now)
            uow.consents.put(decision)
            self._notify(uow, decision, current)
            return decision
        assert current is not None
        if not rules.repeats(decision, current) and not rules.recorded(
                decision, uow.consents.history(decision.customer_id, decision.channel)):
            self._add_change(uow, decision, now)
        return current

    def _add_change(self, uow: UnitOfWork, decision: Consent, now: datetime) -> None:
        uow.consents.add_change(ConsentChange(
            new_id(), decision.customer_id, decision.channel, decision.granted,
            decision.changed_at, now, decision.source))

    def _notify(self, uow: UnitOfWork, consent: Consent, previous: Consent | None) -> None:
        self._crm.notify_after_commit(uow, "ecrm_consent_changed", consent=consent,
                                      previous=previous)
