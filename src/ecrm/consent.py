"""Consent (``crm.consent``): may the shop contact a customer on a channel, for a purpose?

Marketing is opt-in: a customer has consented on a channel only after a grant, and no
record means not granted; transactional messages need no grant but honour a
withdrawal. Every decision is kept in an append-only history; the current state is the
latest decision by time (at the same instant a withdrawal wins), so imports that arrive
out of order converge. A merge keeps, per channel and purpose, the winning decision of
the two customers. Changes of the current state fire ``ecrm_consent_changed`` after
commit. Signed tokens put unsubscribe and confirmation links in messages; only an
explicit call with a token changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.customers import lock_customer, resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import consent as rules
from ecrm.domain import consent_tokens as tokens
from ecrm.domain.consent import MARKETING, Consent, ConsentChange, OptInLevel
from ecrm.domain.consent_tokens import ConsentToken, TokenAction
from ecrm.domain.ids import new_id
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM


class ConsentService:
    """The ``crm.consent`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
        self._signing: tuple[str | bytes, bytes] | None = None

    def grant(self, customer_id: str, channel: str, *, purpose: str = MARKETING,
              level: OptInLevel | str | None = None, source: str | None = None,
              at: datetime | None = None) -> Consent:
        """Record that the customer agreed to messages for ``purpose`` on ``channel`` (at
        ``at``, default now; pass an earlier time to import past decisions) and return
        the current state, which is this grant unless a later decision (or a withdrawal
        at the same instant) is stored. The same grant with the same ``at`` writes
        nothing; a later grant of a granted channel renews it.

        :param level: ``"single"`` (the default) or ``"confirmed"`` (double opt-in).
        :raises NotFound: no such customer.
        :raises ValidationError: a malformed ``channel``, ``purpose``, ``level`` or
            ``source``, a naive ``at``, or an ``at`` more than
            :data:`~ecrm.domain.consent.MAX_CLOCK_SKEW` ahead of now.
        """
        return self._decide(customer_id, channel, purpose, True, level, source, at)

    def withdraw(self, customer_id: str, channel: str, *, purpose: str = MARKETING,
                 source: str | None = None, at: datetime | None = None) -> Consent:
        """Record that the customer withdrew (or refused) consent on ``channel``; the
        counterpart of :meth:`grant`, with the same rules and errors."""
        return self._decide(customer_id, channel, purpose, False, None, source, at)

    def get(self, customer_id: str, channel: str, *, purpose: str = MARKETING
            ) -> Consent | None:
        """The customer's current state on ``channel`` for ``purpose``, or None when they
        never decided there. :raises NotFound: no such customer."""
        name, why = rules.channel(channel), rules.purpose(purpose)
        return self._crm.transact(
            lambda uow: uow.consents.get(resolve_customer(uow, customer_id).id, name, why),
            read_only=True)

    def is_granted(self, customer_id: str, channel: str, *, purpose: str = MARKETING
                   ) -> bool:
        """True only when the customer's current state on ``channel`` for ``purpose`` is
        a grant."""
        found = self.get(customer_id, channel, purpose=purpose)
        return found is not None and found.granted

    def permits(self, customer_id: str, channel: str, *, purpose: str = MARKETING,
                min_level: OptInLevel | str | None = None) -> bool:
        """True when a message for ``purpose`` may go to the customer on ``channel`` as
        far as consent goes: marketing (any purpose but transactional) needs a grant, of
        at least ``min_level`` when given; transactional messages need no withdrawal."""
        why = rules.purpose(purpose)
        least = None if min_level is None else rules.level(min_level, True)
        return rules.permits(self.get(customer_id, channel, purpose=why), why, least)

    def for_customer(self, customer_id: str) -> list[Consent]:
        """The customer's current states, by channel. :raises NotFound: no such
        customer."""
        return self._crm.transact(
            lambda uow: uow.consents.for_customer(resolve_customer(uow, customer_id).id),
            read_only=True)

    def history(self, customer_id: str, channel: str | None = None, *,
                purpose: str | None = None) -> list[ConsentChange]:
        """Every recorded decision of the customer (on ``channel`` and for ``purpose``
        only, when given), oldest first by decision time; a merge brings the duplicate's
        along. :raises NotFound: no such customer."""
        name = None if channel is None else rules.channel(channel)
        why = None if purpose is None else rules.purpose(purpose)

        def read(uow: UnitOfWork) -> list[ConsentChange]:
            found = uow.consents.history(resolve_customer(uow, customer_id).id, name)
            return [c for c in found if why is None or c.purpose == why]

        return self._crm.transact(read, read_only=True)

    # -- signed links ----------------------------------------------------------------

    def unsubscribe_token(self, customer_id: str, channel: str, *,
                          purpose: str = MARKETING) -> str:
        """A signed token for an unsubscribe link in a message to the customer: it lets
        its holder withdraw the customer's consent on ``channel`` for ``purpose`` through
        :meth:`unsubscribe`. It does not expire. :raises ValidationError: on ``secret``
        when the CRM has none; :raises NotFound: no such customer."""
        return self._token(customer_id, channel, purpose, TokenAction.UNSUBSCRIBE)

    def confirmation_token(self, customer_id: str, channel: str, *,
                           purpose: str = MARKETING) -> str:
        """A signed token for the link of a double opt-in message; :meth:`confirm`
        turns it into a confirmed grant."""
        return self._token(customer_id, channel, purpose, TokenAction.CONFIRM)

    def read_token(self, token: str, *, max_age: timedelta | None = None) -> ConsentToken:
        """What ``token`` allows, once its signature, tenant and age check out; changes
        nothing (show it on the page behind the link, with a button that calls
        :meth:`unsubscribe` or :meth:`confirm`). :raises ValidationError: on ``token``."""
        found = tokens.read(self._key(), token, now=self._crm.clock.now(), max_age=max_age)
        if found.tenant != self._crm.tenant:
            raise ValidationError("token", "belongs to another shop (tenant)")
        return found

    def unsubscribe(self, token: str, *, source: str | None = "unsubscribe link",
                    at: datetime | None = None) -> Consent:
        """Withdraw the consent an unsubscribe token names (a customer merged away
        since decides for the survivor); safe to repeat. :raises ValidationError: on
        ``token`` (bad, or not an unsubscribe token)."""
        found = self._read(token, TokenAction.UNSUBSCRIBE, None)
        return self.withdraw(found.customer_id, found.channel, purpose=found.purpose,
                             source=source, at=at)

    def confirm(self, token: str, *, source: str | None = "confirmation link",
                at: datetime | None = None,
                max_age: timedelta | None = timedelta(days=7)) -> Consent:
        """Record the confirmed grant a confirmation token names (double opt-in); the
        token is refused once older than ``max_age``."""
        found = self._read(token, TokenAction.CONFIRM, max_age)
        return self.grant(found.customer_id, found.channel, purpose=found.purpose,
                          level=OptInLevel.CONFIRMED, source=source, at=at)

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

    def signer(self, channel: str, purpose: str, action: TokenAction) -> Callable[[str], str]:
        """The tokens for customer ids known to exist, issued now, as a function of the
        id (campaigns sign one per recipient inside their own unit of work).
        :raises ValidationError: on ``secret``."""
        return tokens.signer(self._key(), self._crm.tenant, channel, purpose, action,
                             self._crm.clock.now())

    def record(self, uow: UnitOfWork, decision: Consent, now: datetime) -> Consent:
        """Inside ``uow``: make the decision the (locked) customer's state if it wins,
        and append it to their history unless it is there already; return the state."""
        current = uow.consents.get(decision.customer_id, decision.channel, decision.purpose)
        if rules.supersedes(decision, current):
            self._add_change(uow, decision, now, effective=True)
            uow.consents.put(decision)
            self._notify(uow, decision, current)
            return decision
        assert current is not None
        if not rules.repeats(decision, current) and not rules.recorded(
                decision, uow.consents.history(decision.customer_id, decision.channel)):
            self._add_change(uow, decision, now, effective=False)
        return current

    # -- helpers ---------------------------------------------------------------------

    def _key(self) -> bytes:
        secret = self._crm.secret
        if secret is None:
            raise ValidationError("secret", "tokens need CRM(secret=...): at least 16 "
                                            "random bytes kept out of the code")
        if self._signing is None or self._signing[0] != secret:
            self._signing = (secret, tokens.signing_key(secret))  # derived once
        return self._signing[1]

    def _token(self, customer_id: str, channel: str, purpose: str,
               action: TokenAction) -> str:
        name, why = rules.channel(channel), rules.purpose(purpose)
        self._key()  # no secret: fail before reading
        found = self._crm.transact(lambda uow: resolve_customer(uow, customer_id),
                                   read_only=True)
        return self.signer(name, why, action)(found.id)

    def _read(self, token: str, action: TokenAction, max_age: timedelta | None
              ) -> ConsentToken:
        found = self.read_token(token, max_age=max_age)
        if found.action != action:
            raise ValidationError("token", f"is a {found.action.value} token, not a "
                                           f"{action.value} token")
        return found

    def _decide(self, customer_id: str, channel: str, purpose: str, granted: bool,
                level: object, source: str | None, at: datetime | None) -> Consent:
        """Check everything, then record the decision in one unit of work."""
        now = self._crm.clock.now()
        name, why, origin = rules.channel(channel), rules.purpose(purpose), rules.source(source)
        how, when = rules.level(level, granted), rules.decided_at(at, now)

        def work(uow: UnitOfWork) -> Consent:
            decision = Consent(lock_customer(uow, customer_id), name, granted, when, origin,
                               why, how)
            return self.record(uow, decision, now)

        return self._crm.transact(work)

    def _add_change(self, uow: UnitOfWork, decision: Consent, now: datetime, *,
                    effective: bool) -> None:
        """Append the decision to the history, and to the audit trail (``effective``:
        it became the current state; not the free-text source)."""
        change = ConsentChange(
            new_id(), decision.customer_id, decision.channel, decision.granted,
            decision.changed_at, now, decision.source, decision.purpose, decision.level)
        uow.consents.add_change(change)
        audit.record(self._crm, uow, audit_rules.CONSENT_GRANTED if decision.granted
                     else audit_rules.CONSENT_WITHDRAWN, "consent", change.id,
                     customer_id=change.customer_id, details={
                         "channel": change.channel, "purpose": change.purpose,
                         "granted": change.granted, "effective": effective,
                         "level": None if change.level is None else change.level.value})

    def _notify(self, uow: UnitOfWork, consent: Consent, previous: Consent | None) -> None:
        self._crm.notify_after_commit(uow, "ecrm_consent_changed", consent=consent,
                                      previous=previous)
