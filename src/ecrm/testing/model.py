"""The plain-Python model of a tenant and the state machine that holds a backend to it.

After every step the machine checks that everything the model expects is what the backend
returns: written values come back unchanged, failed calls left no trace, idempotent
replays wrote nothing, and money adds up.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.customers import Customer
from ecrm.domain.orders import Order, OrderStatus
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing import strategies as s

ORDER_IDS = st.sampled_from([f"o{i}" for i in range(6)])
EMAILS = st.sampled_from([f"u{i}@example.com" for i in range(4)])
MISSING_ID = "00000000-0000-7000-8000-000000000000"


@attrs.define
class ModelOrder:
    """What the model expects of a stored order."""

    order: Order
    refunded: Decimal = Decimal(0)
    cancelled: bool = False

    @property
    def status(self) -> OrderStatus:
        if self.cancelled:
            return OrderStatus.CANCELLED
        if not self.refunded:
            return OrderStatus.PLACED
        if self.refunded == self.order.total:
            return OrderStatus.REFUNDED
        return OrderStatus.PARTIALLY_REFUNDED


class CRMModelMachine(RuleBasedStateMachine):
    """Drives a CRM on ``make_backend()`` and a model with the same operations."""

    make_backend: ClassVar[Any]
    customers = Bundle("customers")

    def __init__(self) -> None:
        super().__init__()
        backend: Backend = self.make_backend()
        self.clock = ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
        self.crm = CRM(backend, tenant=f"m-{uuid.uuid4().hex[:12]}", clock=self.clock)
        self.people: dict[str, Customer] = {}
        self.merged: dict[str, str] = {}
        self.orders: dict[str, ModelOrder] = {}
        self.refund_seq = 0

    # -- rules ---------------------------------------------------------------------------

    @rule(target=customers, fields=s.customer_fields(emails=EMAILS))
    def create_customer(self, fields: dict[str, Any]) -> str:
        if self._conflicts(fields):
            self._expect(ConflictError, self.crm.customers.create, **fields)
            return MISSING_ID
        created = self.crm.customers.create(**fields)
        self.people[created.id] = created
        return created.id

    @rule(customer=customers, name=s.names, email=st.none() | EMAILS)
    def update_customer(self, customer: str, name: str, email: str | None) -> None:
        current = self._person(customer)
        if current is None:
            self._expect(NotFound, self.crm.customers.update, customer, name=name)
            return
        owner = next((c for c in self.people.values() if email and c.email == email), None)
        if owner is not None and owner.id != current.id:
            self._expect(ConflictError, self.crm.customers.update, current.id, email=email)
            return
        self.clock.advance(seconds=1)
        updated = self.crm.customers.update(current.id, name=name, email=email)
        assert (updated.name, updated.email) == (name, email)
        self.people[current.id] = updated

    @rule(order_id=ORDER_IDS, customer=customers, lines=st.lists(s.order_lines(), min_size=1,
          max_size=3), placed_at=s.aware_datetimes())
    def record_order(self, order_id: str, customer: str, lines: list, placed_at: datetime
                     ) -> None:
        def call() -> Order:
            return self.crm.orders.record(order_id=order_id, customer_id=customer,
                                          placed_at=placed_at, lines=lines, channel="web")
        owner = self._person(customer)
        if owner is None:
            self._expect(ValidationError, call)
        elif order_id in self.orders:
            stored = self.orders[order_id].order
            same = (stored.customer_id, stored.placed_at, tuple(stored.lines)) == (
                owner.id, placed_at, tuple(lines))
            if same:
                assert call().order_id == order_id
            else:
                self._expect(ConflictError, call)
        else:
            order = call()
            assert order.customer_id == owner.id and order.placed_at == placed_at
            self.orders[order_id] = ModelOrder(order)

    @rule(order_id=ORDER_IDS)
    def replay_order(self, order_id: str) -> None:
        if order_id not in self.orders:
            return
        o = self.orders[order_id].order
        again = self.crm.orders.record(order_id=o.order_id, customer_id=o.customer_id,
                                       placed_at=o.placed_at, lines=o.lines, channel=o.channel)
        assert again.lines == o.lines and again.total == o.total

    @rule(order_id=ORDER_IDS, share=st.integers(1, 120))
    def refund(self, order_id: str, share: int) -> None:
        model = self.orders.get(order_id)
        if model is None:
            self._expect(NotFound, self.crm.orders.refund, order_id, refund_id="x", amount=1)
            return
        amount = (model.order.total * share / 100).quantize(Decimal(1))
        self.refund_seq += 1
        call = (self.crm.orders.refund, order_id)
        kwargs = {"refund_id": f"r{self.refund_seq}", "amount": amount}
        if model.cancelled:
            self._expect(ConflictError, *call, **kwargs)
        elif amount <= 0 or amount > model.order.total - model.refunded:
            self._expect(ValidationError, *call, **kwargs)
        else:
            assert self.crm.orders.refund(*call[1:], **kwargs).amount == amount
            model.refunded += amount

    @rule(order_id=ORDER_IDS)
    def cancel(self, order_id: str) -> None:
        model = self.orders.get(order_id)
        if model is None:
            return
        if model.refunded:
            self._expect(ConflictError, self.crm.orders.cancel, order_id)
        else:
            assert self.crm.orders.cancel(order_id).status is OrderStatus.CANCELLED
            model.cancelled = True

    @rule(survivor=customers, duplicate=consumes(customers))
    def merge(self, survivor: str, duplicate: str) -> None:
        keep, drop = self._person(survivor), self._person(duplicate)
        if keep is None or drop is None or keep.id == drop.id:
            return
        merged = self.crm.customers.merge(keep.id, drop.id)
        assert merged.email == (keep.email or drop.email)
        del self.people[drop.id]
        self.people[keep.id] = merged
        self.merged[drop.id] = keep.id
        for model in self.orders.values():
            if model.order.customer_id == drop.id:
                model.order = attrs.evolve(model.order, customer_id=keep.id)

    @rule(customer=customers)
    def naive_time_is_refused(self, customer: str) -> None:
        self._expect(ValidationError, self.crm.orders.record, order_id="naive",
                     customer_id=customer, placed_at=datetime(2026, 1, 1),
                     lines=[{"sku": "A", "quantity": 1, "unit_price": "1"}], channel="web")

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def customers_come_back_unchanged(self) -> None:
        listed = {c.id: c for c in self.crm.customers.iterate()}
        assert listed == self.people
        for duplicate in self.merged:
            assert self.crm.customers.get(duplicate) == self.people[self._resolve(duplicate)]

    @invariant()
    def orders_and_money_agree(self) -> None:
        for order_id, model in self.orders.items():
            stored = self.crm.orders.get(order_id)
            assert (stored.customer_id, stored.lines, stored.placed_at) == (
                model.order.customer_id, model.order.lines, model.order.placed_at)
            assert (stored.status, stored.refunded) == (model.status, model.refunded)
            assert sum((r.amount for r in self.crm.orders.refunds(order_id)),
                       Decimal(0)) == model.refunded
        summaries = self.crm.orders.summaries()
        for person in self.people:
            mine = [m for m in self.orders.values()
                    if m.order.customer_id == person and not m.cancelled]
            got = summaries.get(person)
            assert (got.order_count if got else 0) == len(mine)
            spent = sum((m.order.total - m.refunded for m in mine), Decimal(0))
            assert (got.total_spent if got else Decimal(0)) == spent

    # -- helpers -------------------------------------------------------------------------

    def _person(self, customer_id: str) -> Customer | None:
        return self.people.get(self._resolve(customer_id))

    def _resolve(self, customer_id: str) -> str:
        while customer_id in self.merged:
            customer_id = self.merged[customer_id]
        return customer_id

    def _conflicts(self, fields: dict[str, Any]) -> bool:
        return any(fields.get(k) is not None and fields.get(k) == getattr(c, k)
                   for c in self.people.values() for k in ("email", "external_id"))

    def _expect(self, error: type[Exception], call: Any, *args: Any, **kwargs: Any) -> None:
        """``call`` must raise ``error``; the invariants then prove it left no trace."""
        try:
            call(*args, **kwargs)
        except error:
            return
        raise AssertionError(f"expected {error.__name__} from {call.__name__}{args}")
