"""The plain-Python model of a tenant and the state machine that holds a backend to it.

After every step the machine checks that everything the model expects is what the backend
returns: written values come back unchanged, failed calls left no trace, idempotent
replays wrote nothing, and money adds up.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar

import attrs
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.customers import Customer
from ecrm.domain.orders import Order, OrderStatus
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing import strategies as s

ORDER_IDS = st.sampled_from([f"o{i}" for i in range(6)])
EMAILS = st.sampled_from([f"u{i}@example.com" for i in range(4)])
COUPON_ORDERS = st.sampled_from([f"c{i}" for i in range(8)])
COUPON = "MODEL-1"
MISSING_ID = "00000000-0000-7000-8000-000000000000"


@attrs.define
class ModelLot:
    """What the model expects of a points lot."""

    id: str
    remaining: int
    expires_at: datetime | None
    earned_at: datetime

    def spend_key(self) -> tuple[bool, datetime, datetime, str]:
        return (self.expires_at is None, self.expires_at or self.earned_at, self.earned_at,
                self.id)


@attrs.define
class ModelCoupon:
    """What the model expects of the machine's coupon: its terms (yen) and its
    redemptions by order id."""

    amount: int | None
    percent: int | None
    max_discount: int | None
    min_order: int | None
    max_uses: int | None
    per_customer_limit: int | None
    budget: int | None
    redemptions: dict[str, ModelRedemption] = attrs.Factory(dict)

    def discount(self, total: int) -> int:
        """Fixed: the amount up to the total; percent: rounded down, then capped."""
        if self.amount is not None:
            return min(self.amount, total)
        assert self.percent is not None
        off = total * self.percent // 100
        return off if self.max_discount is None else min(off, self.max_discount)

    def live(self) -> list[ModelRedemption]:
        """The redemptions not restored."""
        return [r for r in self.redemptions.values() if not r.restored]

    def refusal(self, customer: str | None, total: int) -> type[Exception] | None:
        """The error a new redemption must raise, or None when it must succeed."""
        if customer is None and self.per_customer_limit is not None:
            return ValidationError
        if self.min_order is not None and total < self.min_order:
            return ValidationError
        live = self.live()
        mine = sum(1 for r in live if r.customer == customer)
        given = sum(r.discount for r in live)
        if ((self.max_uses is not None and len(live) >= self.max_uses)
                or (self.per_customer_limit is not None and mine >= self.per_customer_limit)
                or (self.budget is not None and self.discount(total) > self.budget - given)):
            return ConflictError
        return None


@attrs.define
class ModelRedemption:
    """What the model expects of one redemption of the coupon."""

    customer: str | None
    total: int
    discount: int
    restored: bool = False


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
        self.lots: dict[str, list[ModelLot]] = {}
        self.ledger = {"issued": 0, "redeemed": 0, "expired": 0}
        self.point_seq = 0
        self.coupon: ModelCoupon | None = None
        self.coupon_touched = False  # only coupon rules and merges can change coupon rows

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
        self.lots.setdefault(keep.id, []).extend(self.lots.pop(drop.id, []))
        self.coupon_touched = True
        for redemption in self.coupon.redemptions.values() if self.coupon else ():
            if redemption.customer == drop.id:
                redemption.customer = keep.id

    @rule(customer=customers, points=st.integers(1, 200),
          expires_in=st.none() | st.integers(1, 60))
    def earn_points(self, customer: str, points: int, expires_in: int | None) -> None:
        self.point_seq += 1
        now = self.clock.now()
        expires_at = None if expires_in is None else now + timedelta(days=expires_in)
        call = (self.crm.loyalty.earn, customer, points)
        kwargs = {"key": f"p{self.point_seq}", "expires_at": expires_at}
        owner = self._person(customer)
        if owner is None:
            self._expect(ValidationError, *call, **kwargs)
            return
        tx = call[0](*call[1:], **kwargs)
        assert tx.points == points and tx.customer_id == owner.id
        self.lots.setdefault(owner.id, []).append(
            ModelLot(tx.lot_uses[0].lot_id, points, expires_at, now))
        self.ledger["issued"] += points

    @rule(customer=customers, points=st.integers(1, 300))
    def redeem_points(self, customer: str, points: int) -> None:
        self.point_seq += 1
        owner = self._person(customer)
        now = self.clock.now()
        usable = sorted((lot for lot in self.lots.get(owner.id if owner else "", [])
                         if lot.remaining and (lot.expires_at is None or lot.expires_at > now)),
                        key=ModelLot.spend_key)
        key = f"p{self.point_seq}"
        if owner is None or points > sum(lot.remaining for lot in usable):
            self._expect(ValidationError, self.crm.loyalty.redeem, customer, points, key=key)
            return
        tx = self.crm.loyalty.redeem(customer, points, key=key)
        expected, left = {}, points
        for lot in usable:
            take = min(left, lot.remaining)
            if take:
                expected[lot.id] = take
                lot.remaining -= take
                left -= take
        assert {u.lot_id: u.points for u in tx.lot_uses} == expected
        assert self.crm.loyalty.redeem(customer, points, key=key) == tx  # a replay
        self.ledger["redeemed"] += points

    @rule(days=st.integers(1, 45))
    def time_passes_and_points_expire(self, days: int) -> None:
        now = self.clock.advance(days=days)
        expired = sum(t.points for t in self.crm.loyalty.expire_due())
        due = 0
        for lots in self.lots.values():
            for lot in lots:
                if lot.remaining and lot.expires_at is not None and lot.expires_at <= now:
                    due += lot.remaining
                    lot.remaining = 0
        assert -expired == due
        self.ledger["expired"] += due

    @initialize(fixed=st.booleans(), amount=st.integers(1, 3000), percent=st.integers(1, 100),
                max_discount=st.none() | st.integers(1, 2000),
                min_order=st.none() | st.integers(1, 5000),
                max_uses=st.none() | st.integers(1, 6),
                per_customer_limit=st.none() | st.integers(1, 2),
                budget=st.none() | st.integers(1, 6000))
    def create_coupon(self, fixed: bool, amount: int, percent: int, max_discount: int | None,
                      **limits: Any) -> None:
        discount: dict[str, Any] = (
            {"amount": amount, "max_discount": None, "percent": None} if fixed
            else {"amount": None, "percent": percent, "max_discount": max_discount})
        self.coupon = ModelCoupon(**discount, **limits)
        self.coupon_touched = True
        terms = {k: v for k, v in {**discount, **limits}.items() if v is not None}
        created = self.crm.coupons.create(code=COUPON.lower(), **terms)
        assert (created.code, created.uses) == (COUPON, 0)

    @rule(order_id=COUPON_ORDERS, customer=customers, guest=st.sampled_from([False] * 3 + [True]),
          total=st.integers(1, 8000))
    def redeem_coupon(self, order_id: str, customer: str, guest: bool, total: int) -> None:
        assert self.coupon is not None
        named = None if guest else customer
        self.coupon_touched = True

        def call() -> Any:
            return self.crm.coupons.redeem(COUPON, order_id=order_id, order_total=total,
                                           customer_id=named)

        owner = None if named is None else self._person(named)
        who = None if owner is None else owner.id
        stored = self.coupon.redemptions.get(order_id)
        if named is not None and owner is None:
            self._expect(ValidationError, call)
        elif stored is not None:
            if (stored.customer, stored.total) == (who, total):
                assert call().discount == stored.discount  # a replay
            else:
                self._expect(ConflictError, call)
        elif (refusal := self.coupon.refusal(who, total)) is not None:
            self._expect(refusal, call)
        else:
            redemption = call()
            assert (redemption.customer_id, redemption.discount) == (
                who, self.coupon.discount(total))
            self.coupon.redemptions[order_id] = ModelRedemption(who, total,
                                                                self.coupon.discount(total))

    @rule(order_id=COUPON_ORDERS)
    def replay_coupon(self, order_id: str) -> None:
        assert self.coupon is not None
        self.coupon_touched = True
        stored = self.coupon.redemptions.get(order_id)
        if stored is not None:
            again = self.crm.coupons.redeem(COUPON, order_id=order_id, order_total=stored.total,
                                            customer_id=stored.customer)
            assert (again.discount, again.restored) == (stored.discount, stored.restored)

    @precondition(lambda self: self.coupon is not None and self.coupon.redemptions)
    @rule(order_id=COUPON_ORDERS, known=st.booleans(), index=st.integers(0, 7))
    def restore_coupon(self, order_id: str, known: bool, index: int) -> None:
        assert self.coupon is not None
        self.coupon_touched = True
        redeemed = sorted(self.coupon.redemptions)
        if known:
            order_id = redeemed[index % len(redeemed)]
        stored = self.coupon.redemptions.get(order_id)
        if stored is None:
            self._expect(NotFound, self.crm.coupons.restore, COUPON, order_id=order_id)
            return
        self.clock.advance(seconds=1)
        restored = self.crm.coupons.restore(COUPON, order_id=order_id)
        assert restored.restored and restored.discount == stored.discount
        stored.restored = True

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

    @invariant()
    def points_add_up(self) -> None:
        totals = self.crm.loyalty.totals()
        assert (totals.issued, totals.redeemed, totals.expired) == (
            self.ledger["issued"], self.ledger["redeemed"], self.ledger["expired"])
        assert totals.issued == totals.outstanding + totals.redeemed + totals.expired
        for person in self.people:
            lots = self.crm.loyalty.lots(person)
            held = sum(lot.remaining for lot in self.lots.get(person, []))
            assert all(0 < lot.remaining <= lot.amount for lot in lots)
            assert sum(lot.remaining for lot in lots) == held
            assert sum(t.points for t in self.crm.loyalty.history(person)) == held
            assert self.crm.loyalty.balance(person).total == held >= 0

    @invariant()
    def coupon_counters_match_their_redemptions(self) -> None:
        if self.coupon is None or not self.coupon_touched:
            return
        self.coupon_touched = False
        coupon = self.crm.coupons.get(COUPON)
        stored = {r.order_id: r for r in self.crm.coupons.redemptions(COUPON)}
        live = [r for r in stored.values() if not r.restored]
        assert coupon.uses == len(live) == len(self.coupon.live())
        assert coupon.discount_given == sum((r.discount for r in live), Decimal(0))
        assert coupon.discount_given == sum(r.discount for r in self.coupon.live())
        assert coupon.max_uses is None or coupon.uses <= coupon.max_uses
        assert coupon.budget is None or coupon.discount_given <= coupon.budget
        assert {order: (r.customer_id, r.discount, r.restored) for order, r in stored.items()
                } == {order: (r.customer, r.discount, r.restored)
                      for order, r in self.coupon.redemptions.items()}

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
