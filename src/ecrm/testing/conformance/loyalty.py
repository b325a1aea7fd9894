"""The points ledger: balances, lots, idempotency, expiry and reversal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecrm.crm import CRM
from ecrm.domain.loyalty import TransactionKind
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import ContractBase
from ecrm.testing.conformance.concurrency import run_together


def assert_ledger_consistent(crm: CRM, *customer_ids: str) -> None:
    """issued = outstanding + redeemed + expired; each balance = its entries = its lots
    less its debt; no lot below zero; a debt only where a clawback recorded it."""
    totals = crm.loyalty.totals()
    assert totals.issued == totals.outstanding + totals.redeemed + totals.expired
    held = 0
    for customer_id in customer_ids:
        balance = crm.loyalty.balance(customer_id)
        history = crm.loyalty.history(customer_id)
        entries = sum(t.points for t in history)
        lots = crm.loyalty.lots(customer_id)
        debt = sum(t.debt for t in history)
        assert balance.total == entries == sum(lot.remaining for lot in lots) - debt
        assert balance.debt == debt >= 0
        assert all(0 < lot.remaining <= lot.amount for lot in lots)
        if balance.total < 0:
            assert any(t.kind is TransactionKind.CLAWBACK and t.debt > 0 for t in history)
        held += balance.total
    assert held == totals.outstanding


class LoyaltyContract(ContractBase):
    """Points ledger behaviour every backend must show."""

    @pytest.fixture
    def member(self, crm: CRM):
        return crm.customers.create(email="member@example.com")

    def test_earn_redeem_and_read_back(self, crm: CRM, member, recorder) -> None:
        earned = crm.loyalty.earn(member.id, 500, key="e1", reason="order", reference="A-1")
        assert (earned.kind, earned.points, earned.reference) == (TransactionKind.EARN, 500,
                                                                  "A-1")
        spent = crm.loyalty.redeem(member.id, 120, key="r1")
        assert spent.points == -120
        assert crm.loyalty.history(member.id) == [earned, spent]
        balance = crm.loyalty.balance(member.id)
        assert (balance.total, balance.spendable, balance.pending) == (380, 380, 0)
        assert [e[1]["transaction"] for e in recorder.events
                if e[0] == "points_changed"] == [earned, spent]
        assert_ledger_consistent(crm, member.id)

    def test_spends_soonest_expiring_lots_first(self, crm: CRM, member) -> None:
        now = crm.clock.now()
        never = crm.loyalty.earn(member.id, 100, key="never")
        late = crm.loyalty.earn(member.id, 100, key="late", expires_at=now + timedelta(days=90))
        soon = crm.loyalty.earn(member.id, 100, key="soon", expires_at=now + timedelta(days=10))
        spent = crm.loyalty.redeem(member.id, 150, key="r")
        used = {u.lot_id: u.points for u in spent.lot_uses}
        lot_of = {t.id: t.lot_uses[0].lot_id for t in (never, late, soon)}
        assert used == {lot_of[soon.id]: 100, lot_of[late.id]: 50}
        assert_ledger_consistent(crm, member.id)

    def test_pending_points_are_held_but_not_spendable(self, crm: CRM, member) -> None:
        crm.loyalty.earn(member.id, 300, key="p",
                         available_at=crm.clock.now() + timedelta(days=14))
        balance = crm.loyalty.balance(member.id)
        assert (balance.total, balance.spendable, balance.pending) == (300, 0, 300)
        with pytest.raises(ValidationError, match="points"):
            crm.loyalty.redeem(member.id, 1, key="too-early")
        crm.clock.advance(days=14)
        assert crm.loyalty.redeem(member.id, 300, key="now").points == -300

    def test_idempotency_keys_replay_or_conflict(self, crm: CRM, member, recorder) -> None:
        first = crm.loyalty.earn(member.id, 10, key="same")
        assert crm.loyalty.earn(member.id, 10, key="same") == first
        with pytest.raises(ConflictError, match="same"):
            crm.loyalty.earn(member.id, 11, key="same")
        with pytest.raises(ConflictError):
            crm.loyalty.redeem(member.id, 10, key="same")
        assert crm.loyalty.balance(member.id).total == 10
        assert len([e for e in recorder.events if e[0] == "points_changed"]) == 1

    def test_expiry_is_an_idempotent_job(self, crm: CRM, member) -> None:
        now = crm.clock.now()
        crm.loyalty.earn(member.id, 70, key="a", expires_at=now + timedelta(days=30))
        crm.loyalty.earn(member.id, 30, key="b")
        assert [lot.amount for lot in crm.loyalty.expiring(member.id,
                                                           within=timedelta(days=31))] == [70]
        assert crm.loyalty.expire_due() == []
        crm.clock.advance(days=30)
        assert crm.loyalty.balance(member.id).spendable == 30
        [expiry] = crm.loyalty.expire_due()
        assert (expiry.kind, expiry.points) == (TransactionKind.EXPIRE, -70)
        assert crm.loyalty.expire_due() == []
        totals = crm.loyalty.totals()
        assert (totals.issued, totals.outstanding, totals.expired) == (100, 30, 70)
        assert_ledger_consistent(crm, member.id)

    def test_adjustments_need_a_reason(self, crm: CRM, member) -> None:
        added = crm.loyalty.adjust(member.id, 50, key="a1", reason="goodwill")
        taken = crm.loyalty.adjust(member.id, -20, key="a2", reason="correction")
        assert (added.points, taken.points) == (50, -20)
        with pytest.raises(ValidationError, match="reason"):
            crm.loyalty.adjust(member.id, 5, key="a3", reason=" ")
        with pytest.raises(ValidationError, match="points"):
            crm.loyalty.adjust(member.id, 0, key="a4", reason="nothing")
        assert crm.loyalty.totals().issued == 30
        assert_ledger_consistent(crm, member.id)

    def test_reversals(self, crm: CRM, member) -> None:
        earned = crm.loyalty.earn(member.id, 100, key="e")
        spent = crm.loyalty.redeem(member.id, 40, key="r")
        with pytest.raises(ConflictError, match="spent"):
            crm.loyalty.reverse(earned.id, key="x1")
        undone = crm.loyalty.reverse(spent.id, key="x2", reason="order cancelled")
        assert (undone.kind, undone.points, undone.reverses_id) == (
            TransactionKind.REVERSE, 40, spent.id)
        with pytest.raises(ConflictError, match="already reversed"):
            crm.loyalty.reverse(spent.id, key="x3")
        assert crm.loyalty.reverse(spent.id, key="x2", reason="order cancelled") == undone
        crm.loyalty.reverse(earned.id, key="x4")
        assert crm.loyalty.balance(member.id).total == 0
        with pytest.raises(NotFound):
            crm.loyalty.reverse("missing", key="x5")
        assert_ledger_consistent(crm, member.id)

    @pytest.mark.parametrize(("call", "field"), [
        (lambda crm, c: crm.loyalty.earn(c, 0, key="k"), "points"),
        (lambda crm, c: crm.loyalty.earn(c, -5, key="k"), "points"),
        (lambda crm, c: crm.loyalty.earn(c, 1.5, key="k"), "points"),
        (lambda crm, c: crm.loyalty.earn(c, 5, key=""), "key"),
        (lambda crm, c: crm.loyalty.redeem(c, 1000, key="k"), "points"),
        (lambda crm, c: crm.loyalty.earn("missing", 5, key="k"), "customer_id"),
        (lambda crm, c: crm.loyalty.earn(c, 5, key="k", expires_at=crm.clock.now()),
         "expires_at"),
        (lambda crm, c: crm.loyalty.earn(c, 5, key="k", reason="x" * 501), "reason"),
        (lambda crm, c: crm.loyalty.redeem(c, 5, key="k", reference="a\x00b"), "reference"),
        (lambda crm, c: crm.loyalty.adjust(c, -5, key="k", reason="r",
                                           expires_at=crm.clock.now() + timedelta(days=1)),
         "expires_at"),
        (lambda crm, c: crm.loyalty.expire_due(batch_size=0), "batch_size"),
    ], ids=["zero", "negative", "fraction", "no-key", "overdraw", "no-customer", "expired",
            "long-reason", "nul-reference", "expiry-on-debit", "batch-size"])
    def test_bad_input_writes_nothing(self, crm: CRM, member, call, field: str) -> None:
        crm.loyalty.earn(member.id, 100, key="base")
        before = (crm.loyalty.history(member.id), crm.loyalty.totals())
        with pytest.raises(ValidationError) as raised:
            call(crm, member.id)
        assert raised.value.field == field
        assert (crm.loyalty.history(member.id), crm.loyalty.totals()) == before
        if field != "key":  # the key was never claimed: the same key still works
            assert crm.loyalty.earn(member.id, 1, key="k").points == 1

    def test_points_follow_a_merge(self, crm: CRM, member) -> None:
        other = crm.customers.create(name="dup")
        crm.loyalty.earn(member.id, 10, key="m")
        earned = crm.loyalty.earn(other.id, 5, key="o")
        crm.customers.merge(member.id, other.id)
        replayed = crm.loyalty.earn(other.id, 5, key="o")  # a retry after the merge
        assert (replayed.id, replayed.customer_id) == (earned.id, member.id)
        assert crm.loyalty.balance(member.id).total == 15
        assert crm.loyalty.balance(other.id).total == 15  # the merged-away id answers too
        assert_ledger_consistent(crm, member.id)

    def test_racing_redemptions_never_overdraw(self, crm: CRM, member) -> None:
        crm.loyalty.earn(member.id, 50, key="pool")
        results = run_together(lambda i: crm.loyalty.redeem(member.id, 10, key=f"r{i}"),
                               workers=12)
        assert sum(not isinstance(r, Exception) for r in results) == 5, results
        assert all(isinstance(r, ValidationError) for r in results if isinstance(r, Exception))
        assert crm.loyalty.balance(member.id).total == 0
        assert_ledger_consistent(crm, member.id)

    def test_racing_requests_with_one_key_take_effect_once(self, crm: CRM, member) -> None:
        results = run_together(lambda i: crm.loyalty.earn(member.id, 7, key="once"),
                               workers=12)
        assert all(r == results[0] for r in results), results
        assert crm.loyalty.balance(member.id).total == 7
