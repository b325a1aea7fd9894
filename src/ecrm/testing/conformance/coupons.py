"""Coupons: codes, terms, idempotent redemption, limits, restore, issuance and merges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from ecrm.crm import CRM
from ecrm.domain.coupons import CODE_ALPHABET, DiscountKind
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import ContractBase
from ecrm.testing.conformance.concurrency import WORKERS, run_together


def coupon_state(crm: CRM, *codes: str) -> list[Any]:
    """The coupons and their redemptions, for "nothing was written" checks."""
    return [(crm.coupons.get(code), crm.coupons.redemptions(code)) for code in codes]


def redemption_events(recorder: Any, name: str = "coupon_redeemed") -> list[Any]:
    """The redemptions the recorder was notified of under ``name``."""
    return [kwargs["redemption"] for event, kwargs in recorder.events if event == name]


class CouponContract(ContractBase):
    """Coupon behaviour every backend must show."""

    @pytest.fixture
    def member(self, crm: CRM):
        return crm.customers.create(email="coupon-member@example.com")

    def test_create_then_get_returns_every_term_unchanged(self, crm: CRM) -> None:
        now = crm.clock.now()
        created = crm.coupons.create(
            code=" spring-2026 ", percent="12.5", max_discount="20.00", currency="USD",
            min_order="50", valid_from=now, valid_until=now + timedelta(days=30),
            max_uses=100, per_customer_limit=2, budget="1000.50", members_only=True,
            tiers=["gold", "silver"], description="Spring sale 春")
        assert created.code == "SPRING-2026" and created.kind is DiscountKind.PERCENT
        assert (created.uses, created.discount_given, created.uses_left) == (0, 0, 100)
        assert crm.coupons.get("Spring-2026") == created
        assert crm.coupons.get("SPRING-2026").tiers == frozenset({"gold", "silver"})
        fixed = crm.coupons.create(code="FIVE-OFF", amount=500)
        assert crm.coupons.get("five-off") == fixed and fixed.currency == crm.currency

    def test_creating_a_code_again_replays_or_conflicts(self, crm: CRM) -> None:
        first = crm.coupons.create(code="AGAIN", amount=300, max_uses=1)
        crm.clock.advance(hours=1)
        assert crm.coupons.create(code="again", amount="300", max_uses=1) == first
        with pytest.raises(ConflictError, match="AGAIN"):
            crm.coupons.create(code="AGAIN", amount=300, max_uses=2)
        assert crm.coupons.get("AGAIN") == first

    def test_generated_codes_are_unique_and_unambiguous(self, crm: CRM) -> None:
        made = crm.coupons.generate(300, prefix="vip-", length=6, amount=100, max_uses=1)
        codes = [c.code for c in made]
        assert len(set(codes)) == 300
        assert all(c.startswith("VIP-") and set(c[4:]) <= set(CODE_ALPHABET) for c in codes)
        assert crm.coupons.get(codes[-1]) == made[-1]
        single = crm.coupons.create(percent=5)
        assert len(single.code) == 10 and crm.coupons.get(single.code) == single

    def test_import_codes_all_or_nothing(self, crm: CRM) -> None:
        crm.coupons.create(code="TAKEN", amount=100)
        with pytest.raises(ValidationError) as raised:
            crm.coupons.import_codes(["IMP-1", "imp-2", " imp-1 "], amount=100)
        assert raised.value.field == "codes[2]"
        with pytest.raises(ConflictError, match="TAKEN"):
            crm.coupons.import_codes(["IMP-1", "TAKEN"], amount=200)
        with pytest.raises(NotFound):
            crm.coupons.get("IMP-1")
        imported = crm.coupons.import_codes(["IMP-1", "imp-2", "TAKEN"], amount=100)
        assert [c.code for c in imported] == ["IMP-1", "IMP-2", "TAKEN"]
        assert crm.coupons.import_codes(["IMP-2"], amount=100) == imported[1:2]  # a retry

    def test_redeem_fixed_and_percentage(self, crm: CRM, member, recorder) -> None:
        crm.coupons.create(code="YEN-500", amount=500)
        crm.coupons.create(code="TEN-PCT", percent=10, max_discount=800)
        fixed = crm.coupons.redeem("yen-500", order_id="O-1", order_total=300,
                                   customer_id=member.id)
        assert (fixed.discount, fixed.order_total, fixed.customer_id) == (300, 300, member.id)
        assert (fixed.code, fixed.order_id, fixed.restored_at) == ("YEN-500", "O-1", None)
        assert crm.coupons.redeem("TEN-PCT", order_id="O-2", order_total=4999).discount == 499
        assert crm.coupons.redeem("TEN-PCT", order_id="O-3", order_total=9000).discount == 800
        used = crm.coupons.get("TEN-PCT")
        assert (used.uses, used.discount_given) == (2, Decimal(1299))
        assert [r.order_id for r in crm.coupons.redemptions("TEN-PCT")] == ["O-2", "O-3"]
        assert [r.order_id for r in redemption_events(recorder)] == ["O-1", "O-2", "O-3"]

    def test_redeem_is_idempotent_per_code_and_order(self, crm: CRM, member,
                                                      recorder) -> None:
        crm.coupons.create(code="ONCE", amount=100, max_uses=1)
        first = crm.coupons.redeem("ONCE", order_id="A-1", order_total=1000,
                                   customer_id=member.id)
        crm.clock.advance(minutes=5)
        again = crm.coupons.redeem(" once ", order_id="A-1", order_total="1000",
                                   customer_id=member.id)
        assert again == first
        for other in ({"order_total": 999, "customer_id": member.id},
                      {"order_total": 1000, "customer_id": None}):
            with pytest.raises(ConflictError, match="A-1"):
                crm.coupons.redeem("ONCE", order_id="A-1", **other)
        assert crm.coupons.get("ONCE").uses == 1
        assert len(redemption_events(recorder)) == 1

    def test_single_use_and_restore(self, crm: CRM, recorder) -> None:
        crm.coupons.create(code="SOLO", amount=1000, max_uses=1, budget=1000)
        crm.coupons.redeem("SOLO", order_id="S-1", order_total=5000)
        with pytest.raises(ConflictError, match="used up"):
            crm.coupons.redeem("SOLO", order_id="S-2", order_total=5000)
        crm.clock.advance(days=1)
        restored = crm.coupons.restore("solo", order_id="S-1")
        assert restored.restored_at == crm.clock.now() and restored.discount == 1000
        assert crm.coupons.restore("SOLO", order_id="S-1") == restored  # idempotent
        coupon = crm.coupons.get("SOLO")
        assert (coupon.uses, coupon.discount_given, coupon.budget_left) == (0, 0, 1000)
        crm.coupons.redeem("SOLO", order_id="S-2", order_total=5000)
        assert [r.restored for r in crm.coupons.redemptions("SOLO")] == [True, False]
        assert len(redemption_events(recorder, "coupon_use_restored")) == 1
        with pytest.raises(NotFound):
            crm.coupons.restore("SOLO", order_id="never")
        with pytest.raises(NotFound):
            crm.coupons.restore("NOPE", order_id="S-1")

    def test_validity_window_follows_the_clock(self, crm: CRM) -> None:
        now = crm.clock.now()
        crm.coupons.create(code="WEEK", amount=100, valid_from=now + timedelta(days=1),
                           valid_until=now + timedelta(days=8))
        with pytest.raises(ValidationError, match="not valid before"):
            crm.coupons.redeem("WEEK", order_id="W-0", order_total=500)
        crm.clock.advance(days=1)
        crm.coupons.redeem("WEEK", order_id="W-1", order_total=500)
        crm.clock.advance(days=7)
        with pytest.raises(ValidationError, match="expired"):
            crm.coupons.redeem("WEEK", order_id="W-2", order_total=500)
        assert crm.coupons.redeem("WEEK", order_id="W-1", order_total=500).order_id == "W-1"

    @pytest.mark.parametrize(("call", "field"), [
        (lambda crm, c: crm.coupons.redeem("UNKNOWN", order_id="X", order_total=5000), "code"),
        (lambda crm, c: crm.coupons.redeem("a b", order_id="X", order_total=5000), "code"),
        (lambda crm, c: crm.coupons.redeem("EXPIRED", order_id="X", order_total=5000), "code"),
        (lambda crm, c: crm.coupons.redeem("LATER", order_id="X", order_total=5000), "code"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total=2999),
         "order_total"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total=0), "order_total"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total=10.0),
         "order_total"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total="3000.5"),
         "order_total"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total=50,
                                           currency="USD"), "currency"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id="X", order_total=5000,
                                           currency="XYZ"), "currency"),
        (lambda crm, c: crm.coupons.redeem("MIN", order_id=" ", order_total=5000), "order_id"),
        (lambda crm, c: crm.coupons.redeem("MEMBERS", order_id="X", order_total=5000),
         "customer_id"),
        (lambda crm, c: crm.coupons.redeem("MEMBERS", order_id="X", order_total=5000,
                                           customer_id="nobody"), "customer_id"),
        (lambda crm, c: crm.coupons.redeem("ISSUED", order_id="X", order_total=5000,
                                           customer_id=c), "customer_id"),
        (lambda crm, c: crm.coupons.redeem("GOLD", order_id="X", order_total=5000,
                                           customer_id=c), "customer_id"),
    ], ids=["unknown", "malformed", "expired", "not-yet", "below-minimum", "zero", "float",
            "too-precise", "currency", "bad-currency", "no-order", "guest", "no-customer",
            "not-issued", "tier"])
    def test_bad_redemptions_write_nothing(self, crm: CRM, member, recorder,
                                           call: Callable[..., Any], field: str) -> None:
        now = crm.clock.now()
        crm.coupons.create(code="EXPIRED", amount=100, valid_until=now + timedelta(hours=1))
        crm.coupons.create(code="LATER", amount=100, valid_from=now + timedelta(days=3))
        crm.coupons.create(code="MIN", amount=100, min_order=3000)
        crm.coupons.create(code="MEMBERS", amount=100, members_only=True)
        crm.coupons.create(code="ISSUED", amount=100, issued_only=True)
        crm.coupons.create(code="GOLD", amount=100, tiers=["gold"])
        crm.clock.advance(hours=1)
        codes = ("EXPIRED", "LATER", "MIN", "MEMBERS", "ISSUED", "GOLD")
        before = coupon_state(crm, *codes)
        with pytest.raises(ValidationError) as raised:
            call(crm, member.id)
        assert raised.value.field == field
        assert coupon_state(crm, *codes) == before and redemption_events(recorder) == []

    @pytest.mark.parametrize(("terms", "message"), [
        ({"max_uses": 2}, "used up"), ({"per_customer_limit": 2}, "reached the limit"),
        ({"budget": 250}, "budget")])
    def test_limits_are_conflicts_that_write_nothing(self, crm: CRM, member, terms,
                                                     message: str) -> None:
        crm.coupons.create(code="LIMIT", amount=100, **terms)
        for n in range(2):
            crm.coupons.redeem("LIMIT", order_id=f"L-{n}", order_total=500,
                               customer_id=member.id)
        before = coupon_state(crm, "LIMIT")
        with pytest.raises(ConflictError, match=message):
            crm.coupons.redeem("LIMIT", order_id="L-9", order_total=500,
                               customer_id=member.id)
        assert coupon_state(crm, "LIMIT") == before

    def test_budget_counts_discounts_and_restores(self, crm: CRM) -> None:
        crm.coupons.create(code="BUDGET", percent=50, budget=1000)
        crm.coupons.redeem("BUDGET", order_id="B-1", order_total=1200)  # 600
        with pytest.raises(ConflictError, match="400"):
            crm.coupons.redeem("BUDGET", order_id="B-2", order_total=1000)  # 500 > 400 left
        assert crm.coupons.redeem("BUDGET", order_id="B-3", order_total=800).discount == 400
        assert crm.coupons.get("BUDGET").budget_left == 0
        crm.coupons.restore("BUDGET", order_id="B-1")
        assert crm.coupons.get("BUDGET").budget_left == 600

    def test_issue_and_issued_only(self, crm: CRM, member) -> None:
        other = crm.customers.create(name="other")
        crm.coupons.create(code="GIFT", amount=500, issued_only=True)
        crm.coupons.create(code="OPEN", amount=100)
        [issued] = crm.coupons.issue("gift", [member.id, member.id])
        assert (issued.code, issued.customer_id) == ("GIFT", member.id)
        crm.clock.advance(days=1)
        assert crm.coupons.issue("GIFT", [member.id]) == [issued]  # issuing again is a no-op
        with pytest.raises(ValidationError) as raised:
            crm.coupons.issue("GIFT", [other.id, "nobody"])
        assert raised.value.field == "customer_ids[1]"
        assert crm.coupons.issued_to(other.id) == []
        with pytest.raises(NotFound):
            crm.coupons.issue("NOPE", [member.id])
        crm.coupons.issue("OPEN", [member.id])
        assert [c.code for c in crm.coupons.issued_to(member.id)] == ["GIFT", "OPEN"]
        crm.coupons.redeem("GIFT", order_id="G-1", order_total=900, customer_id=member.id)
        with pytest.raises(ValidationError, match="not issued"):
            crm.coupons.redeem("GIFT", order_id="G-2", order_total=900, customer_id=other.id)

    def test_redemptions_and_issues_follow_a_merge(self, crm: CRM, member) -> None:
        duplicate = crm.customers.create(name="dup")
        crm.coupons.create(code="PAIR", amount=100, per_customer_limit=2, issued_only=True)
        crm.coupons.issue("PAIR", [member.id, duplicate.id])
        crm.coupons.redeem("PAIR", order_id="P-1", order_total=500, customer_id=member.id)
        first = crm.coupons.redeem("PAIR", order_id="P-2", order_total=500,
                                   customer_id=duplicate.id)
        crm.customers.merge(member.id, duplicate.id)
        assert [c.code for c in crm.coupons.issued_to(duplicate.id)] == ["PAIR"]
        assert {r.customer_id for r in crm.coupons.redemptions("PAIR")} == {member.id}
        again = crm.coupons.redeem("PAIR", order_id="P-2", order_total=500,
                                   customer_id=duplicate.id)  # a retry after the merge
        assert (again.id, again.customer_id) == (first.id, member.id)
        with pytest.raises(ConflictError, match="reached the limit"):
            crm.coupons.redeem("PAIR", order_id="P-3", order_total=500,
                               customer_id=member.id)

    def test_unknown_coupons_are_not_found(self, crm: CRM) -> None:
        for call in (lambda: crm.coupons.get("NOPE"), lambda: crm.coupons.redemptions("NOPE")):
            with pytest.raises(NotFound):
                call()
        with pytest.raises(NotFound):
            crm.coupons.issued_to("nobody")

    def test_tenants_have_their_own_codes(self, crm: CRM, backend) -> None:
        neighbour = CRM(backend, tenant=f"{crm.tenant}-n", clock=crm.clock)
        mine = crm.coupons.create(code="SAME", amount=100, max_uses=1)
        theirs = neighbour.coupons.create(code="SAME", percent=10)
        crm.coupons.redeem("SAME", order_id="O", order_total=500)
        assert neighbour.coupons.get("SAME") == theirs
        assert neighbour.coupons.redemptions("SAME") == []
        assert crm.coupons.get("SAME").uses == 1 and mine.uses == 0

    def test_racing_orders_on_a_single_use_coupon(self, crm: CRM, recorder) -> None:
        crm.coupons.create(code="RACE", amount=100, max_uses=1)
        results = run_together(lambda i: crm.coupons.redeem("RACE", order_id=f"R-{i}",
                                                            order_total=500))
        won = [r for r in results if not isinstance(r, Exception)]
        assert len(won) == 1, results
        assert all(isinstance(r, ConflictError) for r in results if r not in won)
        assert crm.coupons.redemptions("RACE") == won
        assert len(redemption_events(recorder)) == 1

    def test_racing_replays_of_one_order_take_effect_once(self, crm: CRM) -> None:
        crm.coupons.create(code="REPLAY", amount=100)
        results = run_together(lambda i: crm.coupons.redeem("REPLAY", order_id="R",
                                                            order_total=500))
        assert all(r == results[0] for r in results), results
        assert crm.coupons.get("REPLAY").uses == 1 and len(results) == WORKERS
