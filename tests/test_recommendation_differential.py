"""Recommendations over random shops: mined rules and suggestions are the same on memory
(the plain-Python reference), SQLite, PostgreSQL and MariaDB, and a refreshed model always
equals one mined afresh, whatever orders arrive, get cancelled or leave the window."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, ManualClock, OrderLine
from ecrm.backends.memory import MemoryBackend

BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]
START = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
SKUS = {"A": "x", "B": "x", "C": "y", "D": "y", "E": None, "F": "z"}
SUPPORTS = (0.01, 0.1, 0.2, 0.25, 1 / 3, 0.5)

#: Days of orders: on and around where a 10-day window starts at days 22 to 27.
DAYS = (0, 5, 11, 12, 13, 14, 16, 17, 20)
#: An order: (customer number, day, SKUs).
orders = st.tuples(st.integers(0, 4), st.sampled_from(DAYS),
                   st.lists(st.sampled_from(sorted(SKUS)), min_size=1, max_size=4))
#: A view or cart event: (customer number, day, kind, SKU).
events = st.tuples(st.integers(0, 4), st.integers(0, 21),
                   st.sampled_from(["product_view", "cart_add", "cart_remove"]),
                   st.sampled_from(sorted(SKUS)))
thresholds = st.fixed_dictionaries({
    "min_support": st.sampled_from(SUPPORTS), "min_confidence": st.sampled_from((0, 0.3, 0.5)),
    "min_lift": st.sampled_from((0, 1.0)), "max_length": st.sampled_from((2, 3)),
    "window_days": st.sampled_from((None, 10)), "incremental": st.booleans()})


def build(backend: Any, plan: list[Any], seen: list[Any]) -> tuple[CRM, list[str]]:
    """A fresh tenant holding the plan's orders and events, its clock at day 22."""
    crm = CRM(backend, tenant=f"t-{uuid.uuid4().hex[:10]}", clock=ManualClock(START))
    ids = [crm.customers.create(external_id=f"c{n}").id for n in range(5)]
    for number, (who, day, skus) in enumerate(plan):
        record(crm, f"o{number}", ids[who], day, skus)
    for who, day, kind, sku in seen:
        crm.interactions.record(ids[who], channel="web", kind=kind, sku=sku,
                                occurred_at=START + timedelta(days=day, hours=1))
    crm.clock.set(START + timedelta(days=22))  # type: ignore[attr-defined]
    return crm, ids


def record(crm: CRM, order_id: str, customer_id: str, day: int, skus: list[str]) -> None:
    crm.orders.record(order_id=order_id, customer_id=customer_id,
                      placed_at=START + timedelta(days=day), channel="web",
                      lines=[OrderLine(sku, 1, Decimal(100), SKUS[sku]) for sku in skus])


def answers(crm: CRM, ids: list[str], settings_: dict[str, Any]) -> Any:
    """Everything a shop would read after mining."""
    model = crm.recommendations.mine(**settings_)
    rules = crm.recommendations.association_rules()
    suggestions = [[(s.sku, s.source, s.score, s.why)
                    for s in crm.recommendations.for_customer(cid, limit=20)] for cid in ids]
    return model.baskets, model.rule_count, rules, suggestions


@pytest.mark.parametrize("fixture", BACKENDS)
def test_every_backend_mines_and_suggests_as_memory_does(fixture: str,
                                                         request: pytest.FixtureRequest
                                                         ) -> None:
    backend = request.getfixturevalue(fixture)

    @settings(max_examples=25, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(plan=st.lists(orders, max_size=12), seen=st.lists(events, max_size=6),
           chosen=thresholds)
    def check(plan: list[Any], seen: list[Any], chosen: dict[str, Any]) -> None:
        expected = answers(*build(MemoryBackend(), plan, seen), chosen)
        assert answers(*build(backend, plan, seen), chosen) == expected

    check()


@pytest.mark.parametrize("fixture", ["memory", *BACKENDS])
def test_a_refreshed_model_equals_a_fresh_one(fixture: str,
                                              request: pytest.FixtureRequest) -> None:
    backend = MemoryBackend() if fixture == "memory" else request.getfixturevalue(fixture)

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(first=st.lists(orders, max_size=8), later=st.lists(orders, max_size=6),
           cancelled=st.sets(st.integers(0, 13)), days=st.sampled_from((0, 1, 2, 5)),
           chosen=thresholds)
    def check(first: list[Any], later: list[Any], cancelled: set[int], days: int,
              chosen: dict[str, Any]) -> None:
        crm, ids = build(backend, first, [])
        crm.recommendations.mine(**chosen)
        for number, (who, day, skus) in enumerate(later, start=len(first)):
            record(crm, f"o{number}", ids[who], day + 10, skus)
        for number in sorted(cancelled):
            if number < len(first) + len(later):
                crm.orders.cancel(f"o{number}")
        crm.clock.advance(days=days)  # type: ignore[attr-defined]
        refreshed = crm.recommendations.refresh()
        fresh = crm.recommendations.mine("fresh", **chosen)
        assert (refreshed.baskets, refreshed.rule_count) == (fresh.baskets, fresh.rule_count)
        assert crm.recommendations.association_rules() == \
            crm.recommendations.association_rules("fresh")

    check()
