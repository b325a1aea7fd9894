"""Many writers at once: the invariants still hold.

Threads share one backend; on server databases each thread holds its own connection, so
these are real concurrent transactions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

from ecrm.crm import CRM
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import ContractBase, line, record

WORKERS = 8


def run_together(task: Callable[[int], Any], workers: int = WORKERS) -> list[Any]:
    """Run ``task(i)`` in ``workers`` threads released at the same instant; return each
    result or the exception it raised."""
    barrier = threading.Barrier(workers)

    def attempt(i: int) -> Any:
        barrier.wait()
        try:
            return task(i)
        except Exception as error:  # noqa: BLE001 - the caller inspects what was raised
            return error

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(attempt, range(workers)))


class ConcurrencyContract(ContractBase):
    """Concurrent behaviour every backend must show."""

    def test_racing_replays_of_one_order_store_it_once(self, crm: CRM, recorder) -> None:
        buyer = crm.customers.create(name="b")
        results = run_together(lambda i: record(crm, "RACE", buyer.id))
        assert all(r == results[0] for r in results), results
        assert recorder.names().count("order_recorded") == 1
        assert crm.orders.summary(buyer.id).order_count == 1

    def test_racing_refunds_never_exceed_the_total(self, crm: CRM) -> None:
        buyer = crm.customers.create(name="b")
        record(crm, "R", buyer.id, lines=[line(price="1000")])
        results = run_together(
            lambda i: crm.orders.refund("R", refund_id=f"r{i}", amount=Decimal("300")))
        refused = [r for r in results if isinstance(r, ValidationError)]
        assert len(refused) == WORKERS - 3, results
        assert crm.orders.get("R").refunded == Decimal("900")
        assert sum(r.amount for r in crm.orders.refunds("R")) == Decimal("900")

    def test_racing_creates_with_one_email_leave_one_customer(self, crm: CRM) -> None:
        results = run_together(lambda i: crm.customers.create(email="race@example.com",
                                                              name=str(i)))
        created = [r for r in results if not isinstance(r, Exception)]
        assert len(created) == 1, results
        assert all(isinstance(r, ConflictError) for r in results if r not in created)
        assert crm.customers.find(email="race@example.com") == created[0]

    def test_opposite_merges_cannot_both_win(self, crm: CRM) -> None:
        a, b = crm.customers.create(name="a"), crm.customers.create(name="b")
        record(crm, "A", a.id)
        record(crm, "B", b.id)
        pairs = [(a.id, b.id), (b.id, a.id)] * (WORKERS // 2)
        results = run_together(lambda i: crm.customers.merge(*pairs[i]))
        merged = [r for r in results if not isinstance(r, Exception)]
        assert len(merged) == 1, results
        assert all(isinstance(r, NotFound) for r in results if r not in merged)
        survivor = merged[0]
        assert [o.order_id for o in crm.orders.for_customer(survivor.id)] == ["A", "B"]

    def test_parallel_writers_to_different_customers_all_land(self, crm: CRM) -> None:
        def shop(i: int) -> None:
            person = crm.customers.create(email=f"p{i}@example.com")
            for n in range(3):
                record(crm, f"{i}-{n}", person.id, days=n)

        results = run_together(shop)
        assert not [r for r in results if isinstance(r, Exception)], results
        summaries = crm.orders.summaries()
        assert len(summaries) == WORKERS
        assert all(s.order_count == 3 for s in summaries.values())
