"""Points under heavy concurrency on the real servers, and SQLite with several processes."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest

from ecrm import CRM, ValidationError
from ecrm.backends.sql import SQLBackend, make_engine
from ecrm.testing.conformance.concurrency import run_together


@pytest.mark.parametrize("round_", range(3))
def test_100_threads_redeem_from_500_points(wide_backend: SQLBackend, round_: int) -> None:
    crm = CRM(wide_backend, tenant=f"race-{uuid.uuid4().hex[:8]}")
    member = crm.customers.create(name="member")
    crm.loyalty.earn(member.id, 500, key="pool")
    results = run_together(lambda i: crm.loyalty.redeem(member.id, 10, key=f"r{i}"),
                           workers=100)
    failures = [r for r in results if isinstance(r, Exception)]
    assert len(results) - len(failures) == 50
    assert all(isinstance(f, ValidationError) for f in failures), failures[:3]
    assert crm.loyalty.balance(member.id).total == 0
    totals = crm.loyalty.totals()
    assert (totals.issued, totals.redeemed, totals.outstanding) == (500, 500, 0)


def test_50_requests_with_one_key_have_one_effect(wide_backend: SQLBackend) -> None:
    crm = CRM(wide_backend, tenant=f"key-{uuid.uuid4().hex[:8]}")
    member = crm.customers.create(name="member")
    crm.loyalty.earn(member.id, 100, key="pool")
    results = run_together(lambda i: crm.loyalty.redeem(member.id, 30, key="checkout-1"),
                           workers=50)
    assert all(r == results[0] for r in results), [r for r in results if r != results[0]][:3]
    assert crm.loyalty.balance(member.id).total == 70


def _redeem_in_process(path: str, tenant: str, customer_id: str, worker: int) -> int:
    crm = CRM(SQLBackend(make_engine(f"sqlite:///{path}")), tenant=tenant)
    won = 0
    for attempt in range(10):
        try:
            crm.loyalty.redeem(customer_id, 10, key=f"{worker}-{attempt}")
            won += 1
        except ValidationError:
            pass
    crm.close()
    return won


def test_sqlite_processes_share_one_balance(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.db")
    crm = CRM.open(f"sqlite:///{path}", tenant="procs")
    member = crm.customers.create(name="member")
    crm.loyalty.earn(member.id, 250, key="pool")
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        wins = pool.starmap(_redeem_in_process,
                            [(path, "procs", member.id, worker) for worker in range(4)])
    assert sum(wins) == 25
    assert crm.loyalty.balance(member.id).total == 0
    crm.close()
