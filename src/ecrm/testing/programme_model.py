"""A state machine for the loyalty programme: orders earn, customers redeem, refunds and
cancellations claw back, under either clawback policy, against a plain-Python model.

After every step: each balance equals the sum of its ledger entries and the sum of its
lots less its debt, no lot is below zero, a balance is below zero only under the
``allow_negative`` policy with the debt recorded, and the model agrees on every figure.
"""

from __future__ import annotations

import unittest
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.earning import FirstPurchaseBonus
from ecrm.domain.loyalty import ClawbackPolicy, TransactionKind
from ecrm.domain.orders import OrderLine
from ecrm.domain.program import LoyaltyProgram
from ecrm.errors import ConflictError, ValidationError

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
FIRST_PURCHASE = 50
STEPS = 30


@attrs.define
class Wallet:
    """What the model expects of one customer's points."""

    held: int = 0
    debt: int = 0
    orders: int = 0

    def credit(self, points: int) -> None:
        repaid = min(points, self.debt)
        self.debt -= repaid
        self.held += points - repaid


@attrs.define
class ModelOrder:
    """An order as the model sees it: what it earned and what was taken back."""

    customer: str
    total: int
    points: int
    refunded: int = 0
    settled: int = 0
    cancelled: bool = False


class ProgrammeMachine(RuleBasedStateMachine):
    """Drives a CRM with a programme on ``make_backend()`` and the model side by side."""

    make_backend: ClassVar[Any]
    customers = Bundle("customers")

    @initialize(policy=st.sampled_from(list(ClawbackPolicy)))
    def open_shop(self, policy: ClawbackPolicy) -> None:
        self.policy = policy
        self.clock = ManualClock(START)
        program = LoyaltyProgram(rules=[FirstPurchaseBonus(FIRST_PURCHASE)], clawback=policy)
        self.crm = CRM(self.make_backend(), tenant=f"p-{uuid.uuid4().hex[:12]}",
                       clock=self.clock, loyalty=program)
        self.wallets: dict[str, Wallet] = {}
        self.orders: dict[str, ModelOrder] = {}
        self.seq = 0

    @precondition(lambda self: len(getattr(self, "wallets", ())) < 3)
    @rule(target=customers)
    def sign_up(self) -> str:
        customer = self.crm.customers.create()
        self.wallets[customer.id] = Wallet()
        return customer.id

    @rule(customer=customers, price=st.integers(1, 30).map(lambda n: n * 100 + 50))
    def buy(self, customer: str, price: int) -> None:
        order_id = self._next("o")
        wallet = self.wallets[customer]
        wallet.orders += 1
        points = price // 100 + (FIRST_PURCHASE if wallet.orders == 1 else 0)
        self.crm.orders.record(order_id=order_id, customer_id=customer, placed_at=START,
                               lines=[OrderLine("SKU", 1, Decimal(price))], channel="web")
        wallet.credit(points)
        self.orders[order_id] = ModelOrder(customer, price, points)

    @rule(customer=customers, share=st.integers(1, 120))
    def redeem(self, customer: str, share: int) -> None:
        """Spend a share of the spendable points; over 100% must be refused."""
        wallet = self.wallets[customer]
        spendable = wallet.held - wallet.debt
        points = max(1, spendable * share // 100)
        call: Callable[[], Any] = lambda: self.crm.loyalty.redeem(customer, points,  # noqa: E731
                                                                 key=self._next("r"))
        if points > spendable:
            _expect(ValidationError, call)
            return
        assert call().points == -points
        wallet.held -= points

    @rule(customer=customers, cancel=st.booleans())
    def spend_everything_then_return_the_last_order(self, customer: str, cancel: bool
                                                    ) -> None:
        """The case the clawback policy is for: the points are gone when the refund comes."""
        mine = [o for o, m in self.orders.items() if m.customer == customer
                and not m.cancelled and not m.refunded]
        if not mine:
            return
        self.redeem(customer, 100)
        order_id, order = mine[-1], self.orders[mine[-1]]
        if cancel:
            self.crm.orders.cancel(order_id)
            order.cancelled = True
            self.wallets[customer].orders -= 1
        else:
            self.crm.orders.refund(order_id, refund_id=self._next("f"))
            order.refunded = order.total
        self._claw(order, order.points)

    @rule(data=st.data(), share=st.integers(1, 100))
    def refund(self, data: st.DataObject, share: int) -> None:
        if not self.orders:
            return
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        amount = max(1, (order.total - order.refunded) * share // 100)
        call: Callable[[], Any] = lambda: self.crm.orders.refund(  # noqa: E731
            order_id, refund_id=self._next("f"), amount=amount)
        if order.cancelled:
            _expect(ConflictError, call)
        elif order.refunded == order.total:
            _expect(ValidationError, call)
        else:
            call()
            order.refunded += amount
            full = order.refunded == order.total
            self._claw(order, order.points if full else
                       order.points * order.refunded // order.total)

    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        if not self.orders:
            return
        order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[order_id]
        if order.refunded:
            _expect(ConflictError, lambda: self.crm.orders.cancel(order_id))
            return
        self.crm.orders.cancel(order_id)
        if not order.cancelled:
            order.cancelled = True
            self.wallets[order.customer].orders -= 1
            self._claw(order, order.points)

    @rule(days=st.integers(1, 30))
    def time_passes(self, days: int) -> None:
        self.clock.advance(days=days)

    def _claw(self, order: ModelOrder, target: int) -> None:
        due = target - order.settled
        order.settled = target
        wallet = self.wallets[order.customer]
        taken = min(due, wallet.held)
        wallet.held -= taken
        if self.policy is ClawbackPolicy.ALLOW_NEGATIVE:
            wallet.debt += due - taken

    def _next(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}{self.seq}"

    @invariant()
    def balances_add_up(self) -> None:
        for customer, wallet in self.wallets.items():
            balance = self.crm.loyalty.balance(customer)
            history = self.crm.loyalty.history(customer)
            lots = self.crm.loyalty.lots(customer)
            assert all(0 < lot.remaining <= lot.amount for lot in lots)
            assert sum(lot.remaining for lot in lots) == wallet.held
            assert balance.debt == sum(t.debt for t in history) == wallet.debt
            assert balance.total == sum(t.points for t in history) == wallet.held - wallet.debt
            if balance.total < 0:
                assert self.policy is ClawbackPolicy.ALLOW_NEGATIVE
                assert any(t.kind is TransactionKind.CLAWBACK and t.debt for t in history)
        totals = self.crm.loyalty.totals()
        assert totals.issued == totals.outstanding + totals.redeemed + totals.expired


def _expect(error: type[Exception], call: Callable[[], Any]) -> None:
    try:
        call()
    except error:
        return
    raise AssertionError(f"expected {error.__name__}")


def make_programme_test(make_backend: Callable[[], Backend]) -> type[unittest.TestCase]:
    """A TestCase running :class:`ProgrammeMachine` against ``make_backend()`` (called
    once per example; each example gets a fresh tenant)."""
    machine: Any = type("BoundProgrammeMachine", (ProgrammeMachine,),
                        {"make_backend": staticmethod(make_backend)})
    # Every step checks every wallet; shorter runs keep the server runs to a minute or two.
    machine.TestCase.settings = settings(stateful_step_count=STEPS)
    return machine.TestCase
