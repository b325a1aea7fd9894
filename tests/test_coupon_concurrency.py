"""Coupons under heavy concurrency on the real servers, and SQLite with several processes.

A single-use coupon redeemed by 100 threads at once has exactly one success.
"""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from ecrm import CRM, ConflictError
from ecrm.backends.sql import SQLBackend, make_engine
from ecrm.testing.conformance.concurrency import run_together


def fresh_crm(backend: SQLBackend, name: str) -> CRM:
    return CRM(backend, tenant=f"{name}-{uuid.uuid4().hex[:8]}")


def split(results: list[object]) -> tuple[list[object], list[object]]:
    """Successes and failures."""
    failures = [r for r in results if isinstance(r, Exception)]
    return [r for r in results if not isinstance(r, Exception)], failures


@pytest.mark.parametrize("round_", range(3))
def test_100_threads_redeem_one_single_use_coupon(wide_backend: SQLBackend,
                                                  round_: int) -> None:
    crm = fresh_crm(wide_backend, "single")
    crm.coupons.create(code="ONLY-ONE", amount=1000, max_uses=1)
    results = run_together(lambda i: crm.coupons.redeem("ONLY-ONE", order_id=f"O-{i}",
                                                         order_total=5000), workers=100)
    won, failed = split(results)
    assert len(won) == 1, failed[:3]
    assert all(isinstance(f, ConflictError) for f in failed), failed[:3]
    coupon = crm.coupons.get("ONLY-ONE")
    assert (coupon.uses, coupon.discount_given) == (1, 1000)
    assert crm.coupons.redemptions("ONLY-ONE") == won


def test_50_threads_with_one_order_have_one_effect(wide_backend: SQLBackend
                                                   ) -> None:
    crm = fresh_crm(wide_backend, "replay")
    crm.coupons.create(code="RETRY", percent=10)
    results = run_together(lambda i: crm.coupons.redeem("RETRY", order_id="O-1",
                                                        order_total=3000), workers=50)
    assert all(r == results[0] for r in results), [r for r in results if r != results[0]][:3]
    assert crm.coupons.get("RETRY").uses == 1
    assert len(crm.coupons.redemptions("RETRY")) == 1


def test_100_threads_within_a_budget_and_a_per_customer_limit(
        wide_backend: SQLBackend) -> None:
    crm = fresh_crm(wide_backend, "limits")
    people = [crm.customers.create(name=f"p{i}") for i in range(10)]
    crm.coupons.create(code="SHARED", amount=100, per_customer_limit=2, budget=1500)
    results = run_together(
        lambda i: crm.coupons.redeem("SHARED", order_id=f"O-{i}", order_total=500,
                                     customer_id=people[i % 10].id), workers=100)
    won, failed = split(results)
    assert len(won) == 15, failed[:3]  # the budget allows 15 of the 20 the limits allow
    assert all(isinstance(f, ConflictError) for f in failed), failed[:3]
    per_person = [sum(1 for r in won if r.customer_id == p.id) for p in people]
    assert max(per_person) <= 2
    coupon = crm.coupons.get("SHARED")
    assert (coupon.uses, coupon.discount_given, coupon.budget_left) == (15, 1500, 0)


def test_redeems_and_restores_interleaved_keep_the_counters(
        wide_backend: SQLBackend) -> None:
    crm = fresh_crm(wide_backend, "restore")
    crm.coupons.create(code="BACK", amount=100, max_uses=10)
    for n in range(10):
        crm.coupons.redeem("BACK", order_id=f"A-{n}", order_total=500)

    def task(i: int) -> object:
        if i < 10:
            return crm.coupons.restore("BACK", order_id=f"A-{i}")
        return crm.coupons.redeem("BACK", order_id=f"B-{i}", order_total=500)

    results = run_together(task, workers=60)
    restores, redeems = split(results[:10]), split(results[10:])
    assert len(restores[0]) == 10, restores[1][:3]
    assert all(isinstance(f, ConflictError) for f in redeems[1]), redeems[1][:3]
    live = [r for r in crm.coupons.redemptions("BACK") if not r.restored]
    coupon = crm.coupons.get("BACK")
    assert coupon.uses == len(live) == len(redeems[0]) <= 10
    assert coupon.discount_given == sum(r.discount for r in live)


def _redeem_in_process(path: str, tenant: str, worker: int) -> int:
    crm = CRM(SQLBackend(make_engine(f"sqlite:///{path}")), tenant=tenant)
    won = 0
    for attempt in range(10):
        try:
            crm.coupons.redeem("ONLY-ONE", order_id=f"{worker}-{attempt}", order_total=5000)
            won += 1
        except ConflictError:
            pass
    crm.close()
    return won


def test_sqlite_processes_redeem_one_single_use_coupon(tmp_path: Path) -> None:
    path = str(tmp_path / "coupons.db")
    crm = CRM.open(f"sqlite:///{path}", tenant="procs")
    crm.coupons.create(code="ONLY-ONE", amount=1000, max_uses=1)
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        wins = pool.starmap(_redeem_in_process, [(path, "procs", w) for w in range(4)])
    assert sum(wins) == 1
    assert crm.coupons.get("ONLY-ONE").uses == 1
    assert len(crm.coupons.redemptions("ONLY-ONE")) == 1
    crm.close()
