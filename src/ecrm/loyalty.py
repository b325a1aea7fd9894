"""Loyalty points: an append-only, double-entry ledger with lots (``crm.loyalty``).

Every write takes an idempotency ``key``: the same key with the same request returns the
first result and writes nothing; with another request it raises ``ConflictError``. The key
is claimed in the same transaction as the effect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.batching import each_new
from ecrm.customers import lock_customer, resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import loyalty as rules
from ecrm.domain import validation as check
from ecrm.domain.earning import EarnQuote
from ecrm.domain.ids import new_id
from ecrm.domain.loyalty import (
    LedgerTotals,
    PointLot,
    PointsBalance,
    PointsTransaction,
    TransactionKind,
)
from ecrm.domain.orders import OrderStatus
from ecrm.domain.program import LoyaltyProgram
from ecrm.earning import ProgramEarning
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.ledger import Effect, Ledger

if TYPE_CHECKING:
    from ecrm.crm import CRM

class LoyaltyService:
    """The ``crm.loyalty`` capability: earn, redeem, adjust, reverse and expire points."""

    def __init__(self, crm: CRM, program: LoyaltyProgram | None = None) -> None:
        self._crm = crm
        self._ledger = Ledger(crm)
        if program is not None and not isinstance(program, LoyaltyProgram):
            raise ValidationError("loyalty", f"expected a LoyaltyProgram, got {program!r}")
        #: The programme at work (used by ecrm's order and customer services); None when
        #: the CRM has no programme.
        self.earning = None if program is None else ProgramEarning(crm, program, self._ledger)

    @property
    def program(self) -> LoyaltyProgram | None:
        """The CRM's points programme, or None."""
        return None if self.earning is None else self.earning.program

    def quote(self, order_id: str) -> EarnQuote:
        """What a recorded order earns under the programme now, rule by rule (the points
        it actually earned are in its transaction; rules may have changed since).

        :raises NotFound: no such order. :raises ValidationError: no programme.
        """
        earning = self._require_program()

        def work(uow: UnitOfWork) -> EarnQuote:
            order = uow.orders.get(order_id)
            if order is None:
                raise NotFound("order", order_id)
            return earning.quote(uow, order, resolve_customer(uow, order.customer_id))

        return self._crm.transact(work, read_only=True)

    def earn_for_order(self, order_id: str) -> PointsTransaction | None:
        """Earn an already recorded order's points now, e.g. for orders brought in with
        ``import_many`` (which earns nothing). Once per order: later calls return the
        first earning. None when the order earns nothing.

        :raises NotFound: no such order. :raises ValidationError: no programme.
        """
        earning = self._require_program()

        def work(uow: UnitOfWork) -> PointsTransaction | None:
            found = uow.orders.get(order_id, for_update=True)
            if found is None:
                raise NotFound("order", order_id)
            customer = resolve_customer(uow, found.customer_id, for_update=True)
            if found.status is OrderStatus.CANCELLED:
                return None
            return earning.earn_for_order(uow, found, customer)

        return self._crm.transact(work, replay_on_duplicate=True)

    def award_review(self, customer_id: str, *, review_id: str) -> PointsTransaction:
        """The programme's review bonus, once per ``review_id``.

        :raises ValidationError: no programme, no review bonus, or no such customer.
        :raises ConflictError: the review already earned points for another customer.
        """
        earning = self._require_program()
        review = check.required_text("review_id", review_id, 128)

        def work(uow: UnitOfWork) -> PointsTransaction:
            return earning.review_bonus(uow, lock_customer(uow, customer_id), review)

        try:
            return self._crm.transact(work, replay_on_duplicate=True)
        except NotFound:
            raise ValidationError("customer_id", f"no customer {customer_id!r}") from None

    def earn(self, customer_id: str, points: int, *, key: str, reason: str | None = None,
             reference: str | None = None, available_at: datetime | None = None,
             expires_at: datetime | None = None) -> PointsTransaction:
        """Give ``points`` in a new lot, spendable from ``available_at`` (default: now;
        later for points pending a return window) until ``expires_at`` (default: never).
        Points repay the customer's points debt, if any, before they form a lot."""
        amount = rules.positive_points("points", points)
        reason, reference = _note("reason", reason, 500), _note("reference", reference, 128)
        request = {"op": "earn", "customer_id": customer_id, "points": amount,
                   "reason": reason, "reference": reference,
                   "available_at": _aware("available_at", available_at),
                   "expires_at": _aware("expires_at", expires_at)}

        def effect(uow: UnitOfWork, customer: str, now: datetime) -> PointsTransaction:
            tx = self._ledger.credit(uow, customer, amount, now,
                                     available_at=request["available_at"],
                                     expires_at=request["expires_at"], reason=reason,
                                     reference=reference)
            self._crm.tiers.upgrade_if_qualified(uow, customer)
            return tx

        return self._idempotent(key, request, customer_id, effect)

    def redeem(self, customer_id: str, points: int, *, key: str, reason: str | None = None,
               reference: str | None = None) -> PointsTransaction:
        """Spend ``points``, soonest-expiring lots first.

        :raises ValidationError: more points than are spendable now.
        """
        amount = rules.positive_points("points", points)
        reason, reference = _note("reason", reason, 500), _note("reference", reference, 128)
        request = {"op": "redeem", "customer_id": customer_id, "points": amount,
                   "reason": reason, "reference": reference}

        def effect(uow: UnitOfWork, customer: str, now: datetime) -> PointsTransaction:
            return self._ledger.debit(uow, customer, amount, now, kind=TransactionKind.REDEEM,
                                      reason=reason, reference=reference)

        return self._idempotent(key, request, customer_id, effect)

    def adjust(self, customer_id: str, points: int, *, key: str, reason: str,
               expires_at: datetime | None = None) -> PointsTransaction:
        """Correct a balance by ``points`` (negative to take points away), with a reason.
        Added points form a new lot; taken points come from the spendable lots."""
        if isinstance(points, bool) or not isinstance(points, int) or points == 0:
            raise ValidationError("points", "an adjustment is a non-zero whole number")
        rules.positive_points("points", abs(points))
        why = check.required_text("reason", reason, 500)
        if points < 0 and expires_at is not None:
            raise ValidationError("expires_at", "only added points have an expiry")
        request = {"op": "adjust", "customer_id": customer_id, "points": points, "reason": why,
                   "expires_at": _aware("expires_at", expires_at)}

        def effect(uow: UnitOfWork, customer: str, now: datetime) -> PointsTransaction:
            if points > 0:
                tx = self._ledger.credit(uow, customer, points, now,
                                         kind=TransactionKind.ADJUST,
                                         expires_at=request["expires_at"], reason=why)
            else:
                tx = self._ledger.debit(uow, customer, -points, now,
                                        kind=TransactionKind.ADJUST, reason=why,
                                        reference=None)
            audit.record(self._crm, uow, audit_rules.POINTS_ADJUSTED, "points_transaction",
                         tx.id, customer_id=customer, details={"points": points})
            return tx

        return self._idempotent(key, request, customer_id, effect)

    def reverse(self, transaction_id: str, *, key: str, reason: str | None = None
                ) -> PointsTransaction:
        """Undo an earn, redeem or adjustment with a new, opposite transaction (the ledger
        is append-only). Redeemed points go back to the lots they came from.

        :raises ConflictError: already reversed, or the earned points were already spent.
        """
        check.required_text("key", key, 128)
        reason = _note("reason", reason, 500)
        original = self._crm.transact(
            lambda uow: uow.loyalty.get_transaction(transaction_id), read_only=True)
        if original is None:
            raise NotFound("points transaction", transaction_id)
        request = {"op": "reverse", "transaction_id": transaction_id, "reason": reason}

        def effect(uow: UnitOfWork, customer: str, now: datetime) -> PointsTransaction:
            if uow.loyalty.is_reversed(transaction_id):
                raise ConflictError(f"transaction {transaction_id} is already reversed")
            lots = uow.loyalty.lots_by_id([u.lot_id for u in original.lot_uses])
            tx = rules.reverse(new_id(), original, lots, now, reason=reason)
            audit.record(self._crm, uow, audit_rules.POINTS_REVERSED, "points_transaction",
                         tx.id, customer_id=customer, details={
                             "reverses_id": original.id, "reversed_kind": original.kind.value,
                             "points": tx.points})
            return self._ledger.store(uow, tx, lots=lots)

        return self._idempotent(key, request, original.customer_id, effect)

    def expire_due(self, *, batch_size: int = 200) -> list[PointsTransaction]:
        """Expire every lot whose expiry has passed by the clock's now, one transaction per
        customer. Running it again finds nothing more to do."""
        size = check.positive_int("batch_size", batch_size)
        now = self._crm.clock.now()
        done: list[PointsTransaction] = []
        due = each_new(lambda: self._crm.transact(
            lambda uow: uow.loyalty.customers_with_expired_lots(now, size), read_only=True))
        for customer_id in due:
            tx = self._crm.transact(lambda uow, c=customer_id: self._expire(uow, c, now))
            if tx is not None:
                done.append(tx)
        return done

    def balance(self, customer_id: str) -> PointsBalance:
        """Points held, spendable now and pending. :raises NotFound: no such customer."""
        def work(uow: UnitOfWork) -> PointsBalance:
            customer = resolve_customer(uow, customer_id).id
            return rules.balance(customer, uow.loyalty.lots(customer), self._crm.clock.now(),
                                 uow.loyalty.debt(customer))

        return self._crm.transact(work, read_only=True)

    def history(self, customer_id: str) -> list[PointsTransaction]:
        """The customer's point transactions, oldest first."""
        def work(uow: UnitOfWork) -> list[PointsTransaction]:
            return uow.loyalty.transactions(resolve_customer(uow, customer_id).id)

        return self._crm.transact(work, read_only=True)

    def lots(self, customer_id: str) -> list[PointLot]:
        """The customer's lots that still hold points, soonest-expiring first."""
        def work(uow: UnitOfWork) -> list[PointLot]:
            lots = uow.loyalty.lots(resolve_customer(uow, customer_id).id)
            return sorted(lots, key=rules.spend_priority)

        return self._crm.transact(work, read_only=True)

    def expiring(self, customer_id: str, *, within: timedelta) -> list[PointLot]:
        """The spendable lots that expire within ``within`` from now, soonest first."""
        now = self._crm.clock.now()
        return [lot for lot in self.lots(customer_id) if lot.spendable(now)
                and lot.expires_at is not None and lot.expires_at <= now + within]

    def totals(self) -> LedgerTotals:
        """The whole ledger of the tenant: issued = outstanding + redeemed + expired."""
        return self._crm.transact(lambda uow: uow.loyalty.totals(), read_only=True)

    # -- helpers ---------------------------------------------------------------------

    def _require_program(self) -> ProgramEarning:
        if self.earning is None:
            raise ValidationError("loyalty", "this CRM has no loyalty programme; pass "
                                             "CRM(..., loyalty=LoyaltyProgram(...))")
        return self.earning

    def _idempotent(self, key: str, request: dict[str, Any], customer_id: str,
                    effect: Effect) -> PointsTransaction:
        """Run ``effect`` once per ``key``; a replay returns the first result."""
        claim = check.required_text("key", key, 128)

        def work(uow: UnitOfWork) -> PointsTransaction:
            # Lock first: on MySQL/MariaDB (REPEATABLE READ) the first plain read fixes the
            # snapshot, so reading before the lock would see lots as they were before the
            # lock holder's commit.
            customer = lock_customer(uow, customer_id)
            # The request as the caller named it: a retry repeats the same arguments, even
            # when the customer id has since been merged away.
            return self._ledger.once(uow, claim, request, customer, effect)

        try:
            return self._crm.transact(work, replay_on_duplicate=True)
        except NotFound:
            raise ValidationError("customer_id", f"no customer {customer_id!r}") from None

    def _expire(self, uow: UnitOfWork, customer_id: str, now: datetime
                ) -> PointsTransaction | None:
        customer = lock_customer(uow, customer_id)
        lots = uow.loyalty.lots(customer)
        tx = rules.expire(new_id(), customer, lots, now)
        if tx is not None:
            self._ledger.store(uow, tx, lots={lot.id: lot for lot in lots})
        return tx


def _note(field: str, value: object, max_length: int) -> str | None:
    return check.text(field, value, max_length)


def _aware(field: str, value: datetime | None) -> datetime | None:
    return check.aware(field, value, required=False)
