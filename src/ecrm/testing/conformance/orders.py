"""Orders: idempotent recording, refunds, cancellations, history and aggregates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.orders import OrderLine, OrderStatus
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase, line, record, snapshot


class OrderContract(ContractBase):
    """Order behaviour every backend must show."""

    @pytest.fixture
    def buyer(self, crm: CRM):
        return crm.customers.create(email="buyer@example.com")

    def test_record_then_get_returns_the_order_unchanged(self, crm: CRM, buyer) -> None:
        lines = [line("A", 2, "1980", "books"), line("B", 1, "0"), line("A", 1, "1980")]
        order = record(crm, "ORD-1", buyer.id, lines=lines, channel="marketplace")
        assert order.total == Decimal("5940") and order.status is OrderStatus.PLACED
        assert order.placed_at == START and order.placed_at.tzinfo == timezone.utc
        assert order.lines == tuple(lines)
        assert crm.orders.get("ORD-1") == order

    def test_cents_currencies_keep_their_places(self, crm: CRM, buyer) -> None:
        order = record(crm, "US-1", buyer.id, currency="USD",
                       lines=[line("A", 3, "11.77"), line("B", 1, "0.5")])
        assert order.total == Decimal("35.81")
        assert crm.orders.get("US-1").lines[1].unit_price == Decimal("0.50")

    def test_replaying_the_same_order_writes_nothing(self, crm: CRM, buyer, recorder) -> None:
        first = record(crm, "ORD-1", buyer.id)
        crm.clock.advance(hours=1)
        assert record(crm, "ORD-1", buyer.id) == first
        assert recorder.names().count("order_recorded") == 1

    def test_same_id_other_content_conflicts(self, crm: CRM, buyer) -> None:
        record(crm, "ORD-1", buyer.id)
        before = snapshot(crm)
        with pytest.raises(ConflictError):
            record(crm, "ORD-1", buyer.id, lines=[line(quantity=2)])
        with pytest.raises(ConflictError):
            record(crm, "ORD-1", buyer.id, days=1)
        assert snapshot(crm) == before

    def test_history_is_oldest_first_with_ties_by_order_id(self, crm: CRM, buyer) -> None:
        for order_id, days in [("c", 2), ("b", 0), ("a", 0), ("d", 1)]:
            record(crm, order_id, buyer.id, days=days)
        assert [o.order_id for o in crm.orders.for_customer(buyer.id)] == ["a", "b", "d", "c"]

    def test_unknown_orders_raise_not_found(self, crm: CRM) -> None:
        for call in (crm.orders.get, crm.orders.refunds, crm.orders.cancel):
            with pytest.raises(NotFound):
                call("nope")

    def test_summary_counts_net_spend_without_cancelled(self, crm: CRM, buyer) -> None:
        record(crm, "1", buyer.id, days=0, lines=[line(price="1000")])
        record(crm, "2", buyer.id, days=5, lines=[line(price="3000")])
        record(crm, "3", buyer.id, days=9, lines=[line(price="500")])
        record(crm, "usd", buyer.id, days=20, currency="USD", lines=[line(price="9.99")])
        crm.orders.refund("2", refund_id="r1", amount=Decimal("1200"))
        crm.orders.cancel("3")
        summary = crm.orders.summary(buyer.id)
        assert (summary.order_count, summary.total_spent) == (2, Decimal("2800"))
        assert (summary.first_order_at, summary.last_order_at) == (
            START, START + timedelta(days=5))
        usd = crm.orders.summary(buyer.id, currency="USD")
        assert (usd.order_count, usd.total_spent) == (1, Decimal("9.99"))
        assert crm.orders.summaries([buyer.id])[buyer.id] == summary

    def test_summary_of_customer_without_orders(self, crm: CRM, buyer) -> None:
        summary = crm.orders.summary(buyer.id)
        assert (summary.order_count, summary.total_spent, summary.last_order_at) == (
            0, Decimal(0), None)

    def test_summaries_of_everyone_match_one_by_one(self, crm: CRM) -> None:
        people = [crm.customers.create(name=str(i)) for i in range(4)]
        for i, person in enumerate(people[:3]):
            for n in range(i + 1):
                record(crm, f"{i}-{n}", person.id, days=n, lines=[line(price=str(100 * i))])
        everyone = crm.orders.summaries()
        assert set(everyone) == {p.id for p in people[:3]}
        for person in people[:3]:
            assert everyone[person.id] == crm.orders.summary(person.id)

    def test_partial_then_full_refund(self, crm: CRM, buyer, recorder) -> None:
        record(crm, "R", buyer.id, lines=[line(quantity=2, price="1500")])
        part = crm.orders.refund("R", refund_id="r1", amount="1000", reason="damaged")
        assert crm.orders.get("R").status is OrderStatus.PARTIALLY_REFUNDED
        rest = crm.orders.refund("R", refund_id="r2")
        assert rest.amount == Decimal("2000")
        order = crm.orders.get("R")
        assert (order.status, order.refunded) == (OrderStatus.REFUNDED, Decimal("3000"))
        assert crm.orders.refunds("R") == [part, rest]
        assert recorder.names()[-2:] == ["order_refunded", "order_refunded"]

    def test_refunds_are_idempotent_by_refund_id(self, crm: CRM, buyer) -> None:
        record(crm, "R", buyer.id, lines=[line(price="3000")])
        first = crm.orders.refund("R", refund_id="r1", amount=1000)
        assert crm.orders.refund("R", refund_id="r1", amount=1000) == first
        with pytest.raises(ConflictError):
            crm.orders.refund("R", refund_id="r1", amount=500)
        assert crm.orders.get("R").refunded == Decimal("1000")

    def test_refund_limits(self, crm: CRM, buyer) -> None:
        record(crm, "R", buyer.id, lines=[line(price="3000")])
        before = snapshot(crm)
        for amount in (0, -5, "3000.5", 3001):
            with pytest.raises(ValidationError, match="amount"):
                crm.orders.refund("R", refund_id="bad", amount=amount)
        with pytest.raises(NotFound):
            crm.orders.refund("nope", refund_id="r", amount=1)
        assert snapshot(crm) == before

    def test_cancel(self, crm: CRM, buyer, recorder) -> None:
        record(crm, "C", buyer.id)
        at = datetime(2026, 4, 2, tzinfo=timezone.utc)
        cancelled = crm.orders.cancel("C", cancelled_at=at)
        assert (cancelled.status, cancelled.cancelled_at) == (OrderStatus.CANCELLED, at)
        assert crm.orders.get("C") == cancelled
        assert crm.orders.cancel("C") == cancelled  # twice is a no-op
        assert recorder.names().count("order_cancelled") == 1
        for amount in (1, 0):  # the cancellation is the problem, whatever the amount
            with pytest.raises(ConflictError):
                crm.orders.refund("C", refund_id="r", amount=amount)

    def test_refunded_orders_cannot_be_cancelled(self, crm: CRM, buyer) -> None:
        record(crm, "C", buyer.id, lines=[line(price="100")])
        crm.orders.refund("C", refund_id="r", amount=10)
        with pytest.raises(ConflictError):
            crm.orders.cancel("C")

    def test_orders_for_merged_away_ids_land_on_the_survivor(self, crm: CRM, buyer) -> None:
        duplicate = crm.customers.create(name="dup")
        crm.customers.merge(buyer.id, duplicate.id)
        order = record(crm, "M", duplicate.id)
        assert order.customer_id == buyer.id
        assert record(crm, "M", duplicate.id) == order  # a replay still matches

    def test_line_dicts_are_accepted(self, crm: CRM, buyer) -> None:
        order = crm.orders.record(order_id="D", customer_id=buyer.id, placed_at=START,
                                  lines=[{"sku": "A", "quantity": 1, "unit_price": "10"}],
                                  channel="web")
        assert order.lines == (OrderLine("A", 1, Decimal("10")),)
