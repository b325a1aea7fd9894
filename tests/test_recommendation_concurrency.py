"""Workers recording orders and refreshing one mined model at once, on the real servers:
every refresh lands whole (the model's row is locked, deadlocks are retried), no basket is
counted twice or lost, and the model ends equal to one mined afresh."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from ecrm import CRM, ManualClock, OrderLine
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
WORKERS = 8
ORDERS_EACH = 6
SKUS = ("TEA", "CUP", "POT", "HONEY", "SPOON")
SETTINGS = {"min_support": 0.05, "min_confidence": 0.2, "max_length": 3}


def test_racing_refreshes_count_each_basket_once(wide_backend: SQLBackend) -> None:
    crm = CRM(wide_backend, tenant=f"rec-{uuid.uuid4().hex[:8]}",
              clock=ManualClock(WHEN + timedelta(days=1)))
    people = [crm.customers.create(name=f"c{n}").id for n in range(WORKERS)]
    crm.recommendations.mine(**SETTINGS)

    def work(worker: int) -> None:
        for n in range(ORDERS_EACH):
            skus = [SKUS[(worker + n) % 5], SKUS[(worker * n + 1) % 5], SKUS[n % 5]]
            crm.orders.record(order_id=f"o{worker}-{n}", customer_id=people[worker],
                              placed_at=WHEN, channel="web",
                              lines=[OrderLine(sku, 1, Decimal(100)) for sku in skus])
            crm.recommendations.refresh()

    failures = [r for r in run_together(work, WORKERS) if isinstance(r, Exception)]
    assert failures == []
    refreshed = crm.recommendations.refresh()
    fresh = crm.recommendations.mine("fresh", **SETTINGS)
    assert refreshed.baskets == fresh.baskets == WORKERS * ORDERS_EACH
    assert crm.recommendations.association_rules() == \
        crm.recommendations.association_rules("fresh")
