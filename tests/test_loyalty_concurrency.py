"""Points under heavy concurrency on the real servers, and SQLite with several processes."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ecrm import (
    CRM,
    ClawbackPolicy,
    LoyaltyProgram,
    OrderLine,
    ReferralReward,
    TransactionKind,
    ValidationError,
)
from ecrm.backends.sql import SQLBackend, make_engine
from ecrm.testing.conformance.concurrency import run_together
from ecrm.testing.conformance.loyalty import assert_ledger_consistent

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)


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


@pytest.mark.parametrize("policy", list(ClawbackPolicy))
def test_refunds_racing_redemptions_take_each_order_back_once(wide_backend: SQLBackend,
                                                              policy: ClawbackPolicy) -> None:
    crm = CRM(wide_backend, tenant=f"claw-{uuid.uuid4().hex[:8]}",
              loyalty=LoyaltyProgram(clawback=policy))
    member = crm.customers.create(name="member")
    for n in range(20):
        crm.orders.record(order_id=f"O{n}", customer_id=member.id, placed_at=WHEN,
                          lines=[OrderLine("SKU", 1, 10000)], channel="web")

    def refund_or_redeem(i: int) -> object:
        if i % 2:
            return crm.loyalty.redeem(member.id, 100, key=f"r{i}")
        return crm.orders.refund(f"O{i // 2}", refund_id=f"R{i}")

    results = run_together(refund_or_redeem, workers=40)
    failures = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(f, ValidationError) for f in failures), failures[:3]
    redeemed = sum(1 for i, r in enumerate(results) if i % 2 and not isinstance(r, Exception))
    history = crm.loyalty.history(member.id)
    clawbacks = [t for t in history if t.kind is TransactionKind.CLAWBACK]
    assert sorted(t.reference for t in clawbacks) == sorted(f"O{n}" for n in range(20))
    assert sum(-t.points + t.written_off for t in clawbacks) == 2000
    assert_ledger_consistent(crm, member.id)
    balance = crm.loyalty.balance(member.id)
    if policy is ClawbackPolicy.ALLOW_NEGATIVE:
        assert (balance.total, balance.debt) == (-100 * redeemed, 100 * redeemed)
    else:
        assert balance.total == 0 and balance.debt == 0


def test_racing_first_orders_reward_a_referral_once(wide_backend: SQLBackend) -> None:
    crm = CRM(wide_backend, tenant=f"ref-{uuid.uuid4().hex[:8]}", loyalty=LoyaltyProgram(
        referral=ReferralReward(referrer_points=500, referee_points=300)))
    alice, bob = crm.customers.create(name="alice"), crm.customers.create(name="bob")
    crm.referrals.refer(bob.id, code=crm.referrals.code_for(alice.id))
    results = run_together(lambda i: crm.orders.record(
        order_id=f"B{i}", customer_id=bob.id, placed_at=WHEN, channel="web",
        lines=[OrderLine("SKU", 1, 1000)]), workers=20)
    assert not [r for r in results if isinstance(r, Exception)]
    rewards = [t.points for c in (alice.id, bob.id) for t in crm.loyalty.history(c)
               if t.reason == "referral"]
    assert sorted(rewards) == [300, 500]
    assert crm.referrals.of(bob.id).order_id in {f"B{i}" for i in range(20)}
