"""The points programme at work: orders earn when recorded, refunds and cancellations take
the points back, new customers and reviews earn their bonuses.

Everything here runs inside the unit of work of the event that caused it (recording the
order, storing the refund, creating the customer), so the points land with the event or
not at all. Each earning claims an idempotency key of its own scope (``points:order``,
``points:signup``, ``points:review``, ``points:referral``) so it happens once per order,
customer, review or referral.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import earning as rules
from ecrm.domain.customers import Customer
from ecrm.domain.earning import EarnContext, EarnQuote, EarnRule
from ecrm.domain.ids import new_id
from ecrm.domain.loyalty import PointsTransaction, TransactionKind, clawback
from ecrm.domain.orders import Order
from ecrm.domain.program import LoyaltyProgram
from ecrm.domain.referrals import Referral
from ecrm.errors import ConflictError, ValidationError
from ecrm.ledger import Ledger

if TYPE_CHECKING:
    from ecrm.crm import CRM

ORDER_SCOPE = "points:order"
SIGNUP_SCOPE = "points:signup"
REVIEW_SCOPE = "points:review"
REFERRAL_SCOPE = "points:referral"


class ProgramEarning:
    """Applies a :class:`LoyaltyProgram` to the CRM's events."""

    def __init__(self, crm: CRM, program: LoyaltyProgram, ledger: Ledger) -> None:
        self._crm = crm
        self.program = program
        self._ledger = ledger

    def quote(self, uow: UnitOfWork, order: Order, customer: Customer) -> EarnQuote:
        """What ``order`` earns now, with the rules that applied."""
        context = EarnContext(order=order, customer=customer,
                              order_number=uow.orders.count_for_customer(customer.id),
                              timezone=self.program.timezone,
                              tier=self._crm.tiers.tier_of(uow, customer.id))
        return rules.quote(context, self.program.rates, self._rules(), self.program.rounding)

    def earn_for_order(self, uow: UnitOfWork, order: Order, customer: Customer
                       ) -> PointsTransaction | None:
        """Give the (locked) customer the order's points, pending until the return window
        ends; once per order. None when the order earns nothing."""
        claimed = uow.idempotency.get(ORDER_SCOPE, order.order_id)
        if claimed is not None:
            return uow.loyalty.get_transaction(claimed[1])
        points = self.quote(uow, order, customer).points
        tx = None
        if points > 0:
            now = self._crm.clock.now()
            available_at = max(now, order.placed_at + self.program.return_window)
            tx = self._ledger.credit(uow, customer.id, points, now, available_at=available_at,
                                     expires_at=self._expiry(available_at), reason="order",
                                     reference=order.order_id)
            uow.idempotency.claim(ORDER_SCOPE, order.order_id, "", tx.id, now)
        self._crm.tiers.upgrade_if_qualified(uow, customer.id)
        return tx

    def claw_back(self, uow: UnitOfWork, order: Order) -> PointsTransaction | None:
        """After a refund or cancellation of ``order``, take back the share of its points
        not taken back yet (see :func:`ecrm.domain.earning.clawback_target`)."""
        claimed = uow.idempotency.get(ORDER_SCOPE, order.order_id)
        earned = None if claimed is None else uow.loyalty.get_transaction(claimed[1])
        if earned is None:
            return None
        history = uow.loyalty.transactions(earned.customer_id)
        settled = sum(-t.points + t.written_off for t in history
                      if t.kind is TransactionKind.CLAWBACK and t.reference == order.order_id)
        due = rules.clawback_target(earned.points, order) - settled
        if due <= 0:
            return None
        own_lot = earned.lot_uses[0].lot_id if earned.lot_uses else None
        tx = clawback(new_id(), earned.customer_id, due, uow.loyalty.lots(earned.customer_id),
                      self._crm.clock.now(), policy=self.program.clawback,
                      first_lot_id=own_lot, reference=order.order_id,
                      reason="refund" if order.cancelled_at is None else "cancellation")
        lots = uow.loyalty.lots_by_id([use.lot_id for use in tx.lot_uses])
        return self._ledger.store(uow, tx, lots=lots)

    def referral_to_reward(self, uow: UnitOfWork, customer_id: str) -> Referral | None:
        """The (locked) customer's referral if it may still earn its reward, with the
        referrer locked too. Only locking reads, so callers may run it before any plain
        read (see LoyaltyService)."""
        if self.program.referral is None:
            return None
        referral = uow.referrals.for_referee(customer_id, for_update=True)
        if referral is None or referral.rewarded_at is not None:
            return None
        resolve_customer(uow, referral.referrer_id, for_update=True)
        return referral

    def reward_referral(self, uow: UnitOfWork, referral: Referral, order: Order) -> None:
        """Reward a referral on the referee's first order, once. A referral that became a
        self-referral through a merge is closed without points."""
        reward = self.program.referral
        if reward is None or uow.orders.count_for_customer(referral.referee_id) != 1:
            return
        now = self._crm.clock.now()
        available_at = max(now, order.placed_at + self.program.return_window)
        if referral.referrer_id != referral.referee_id:
            for who, points in ((referral.referee_id, reward.referee_points),
                                (referral.referrer_id, reward.referrer_points)):
                if points:
                    self._bonus(uow, REFERRAL_SCOPE, f"{referral.id}:{who}", who, points,
                                "referral", available_at=available_at)
        done = attrs.evolve(referral, rewarded_at=now, order_id=order.order_id)
        uow.referrals.mark_rewarded(done)
        self._crm.notify_after_commit(uow, "ecrm_referral_rewarded", referral=done)

    def signup_bonus(self, uow: UnitOfWork, customer: Customer) -> PointsTransaction | None:
        """The programme's sign-up bonus for a customer just created, if it has one."""
        points = self.program.signup_bonus
        if not points:
            return None
        return self._bonus(uow, SIGNUP_SCOPE, customer.id, customer.id, points, "signup")

    def review_bonus(self, uow: UnitOfWork, customer_id: str, review_id: str
                     ) -> PointsTransaction:
        """The review bonus for the (locked) customer, once per ``review_id``."""
        if not self.program.review_bonus:
            raise ValidationError("review_bonus", "the loyalty programme gives no review "
                                                  "bonus")
        return self._bonus(uow, REVIEW_SCOPE, review_id, customer_id,
                           self.program.review_bonus, "review")

    def _bonus(self, uow: UnitOfWork, scope: str, key: str, customer_id: str, points: int,
               reason: str, *, available_at: datetime | None = None) -> PointsTransaction:
        claimed = uow.idempotency.get(scope, key)
        if claimed is not None:
            stored = uow.loyalty.get_transaction(claimed[1])
            assert stored is not None
            if stored.customer_id != customer_id:
                raise ConflictError(f"{reason} {key!r} already earned points for another "
                                    "customer")
            return stored
        now = self._crm.clock.now()
        available_at = available_at or now
        tx = self._ledger.credit(uow, customer_id, points, now, available_at=available_at,
                                 expires_at=self._expiry(available_at), reason=reason,
                                 reference=key)
        uow.idempotency.claim(scope, key, "", tx.id, now)
        self._crm.tiers.upgrade_if_qualified(uow, customer_id)
        return tx

    def _expiry(self, available_at: datetime) -> datetime | None:
        valid_for = self.program.points_valid_for
        return None if valid_for is None else available_at + valid_for

    def _rules(self) -> Iterable[EarnRule]:
        yield from self.program.rules
        for contributed in self._crm.plugin_manager.hook.ecrm_earn_rules(crm=self._crm):
            for rule in contributed or ():
                if not isinstance(rule, EarnRule):
                    raise ValidationError("earn_rules", f"a plugin contributed {rule!r}, "
                                                        "which has no evaluate(context)")
                yield rule
