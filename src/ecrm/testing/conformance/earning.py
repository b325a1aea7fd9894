"""The points programme: orders earn when recorded, refunds claw back, bonuses apply."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.earning import (
    BaseRate,
    BirthdayMonthBonus,
    Bonus,
    CampaignMultiplier,
    EarnContext,
    FirstPurchaseBonus,
    Multiplier,
    NthPurchaseBonus,
    ProductBonus,
)
from ecrm.domain.loyalty import ClawbackPolicy, TransactionKind
from ecrm.domain.program import LoyaltyProgram
from ecrm.errors import ConflictError, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.testing.conformance.base import START, ContractBase, Recorder, line, record
from ecrm.testing.conformance.loyalty import assert_ledger_consistent

WINDOW = timedelta(days=14)
VALID_FOR = timedelta(days=365)


def shop(backend: Backend, tenant: str, clock: ManualClock, plugins: Iterable[object] = (),
         **program: object) -> CRM:
    """A CRM with a programme: 1 point per 100 JPY unless ``program`` says otherwise."""
    return CRM(backend, tenant=tenant, clock=clock, plugins=list(plugins),
               loyalty=LoyaltyProgram(**program))  # type: ignore[arg-type]


class EarningContract(ContractBase):
    """What a loyalty programme does on every backend."""

    @pytest.fixture
    def shopper(self, crm: CRM):
        return crm.customers.create(email="member@example.com", birth_date=date(1990, 4, 9))

    def test_an_order_earns_pending_points_once(self, backend, tenant, clock, shopper) -> None:
        crm = shop(backend, tenant, clock, return_window=WINDOW, points_valid_for=VALID_FOR)
        record(crm, "A-1", shopper.id, lines=[line(price="12345")])
        record(crm, "A-1", shopper.id, lines=[line(price="12345")])  # a replay earns nothing
        [earned] = crm.loyalty.history(shopper.id)
        assert (earned.kind, earned.points, earned.reference) == (TransactionKind.EARN, 123,
                                                                  "A-1")
        [lot] = crm.loyalty.lots(shopper.id)
        assert lot.available_at == START + WINDOW
        assert lot.expires_at == START + WINDOW + VALID_FOR
        balance = crm.loyalty.balance(shopper.id)
        assert (balance.total, balance.spendable, balance.pending) == (123, 0, 123)
        clock.advance(days=14)
        assert crm.loyalty.balance(shopper.id).spendable == 123

    def test_rules_multiply_the_base_then_add_bonuses(self, backend, tenant, clock,
                                                      shopper) -> None:
        campaign = CampaignMultiplier(2, starts_at=START, ends_at=START + timedelta(days=7))
        crm = shop(backend, tenant, clock, rules=[
            campaign, ProductBonus(10, categories={"tea"}), FirstPurchaseBonus(100),
            NthPurchaseBonus(2, 50), BirthdayMonthBonus(factor=Decimal("1.5"))])
        record(crm, "A-1", shopper.id, lines=[line("T1", 3, "1000", "tea"), line("X", 1, "500")])
        quote = crm.loyalty.quote("A-1")
        assert quote.base == Decimal(35)
        assert {m.label for m in quote.multipliers} == {"campaign", "birthday_month"}
        assert {b.label: b.points for b in quote.bonuses} == {"product": 30,
                                                              "first_purchase": 100}
        assert crm.loyalty.history(shopper.id)[0].points == 35 * 3 + 30 + 100
        record(crm, "A-2", shopper.id, days=40, lines=[line(price="1000")])  # May: no birthday
        assert crm.loyalty.history(shopper.id)[1].points == 10 + 50

    @pytest.mark.parametrize(("rounding", "points"), [("down", 1), ("half_up", 2), ("up", 2)])
    def test_rounding_is_configurable(self, backend, tenant, clock, shopper, rounding,
                                      points) -> None:
        crm = shop(backend, tenant, clock, rounding=rounding)
        record(crm, "A-1", shopper.id, lines=[line(price="150")])
        assert crm.loyalty.balance(shopper.id).total == points

    def test_refunds_claw_back_their_share(self, backend, tenant, clock, shopper) -> None:
        crm = shop(backend, tenant, clock)
        record(crm, "A-1", shopper.id, lines=[line(price="10000")])
        crm.orders.refund("A-1", refund_id="R1", amount=3333)
        crm.orders.refund("A-1", refund_id="R1", amount=3333)  # a replay claws nothing
        clawed = [t for t in crm.loyalty.history(shopper.id) if t.kind is TransactionKind.CLAWBACK]
        assert [(t.points, t.reference, t.reason) for t in clawed] == [(-33, "A-1", "refund")]
        crm.orders.refund("A-1", refund_id="R2")
        assert crm.loyalty.balance(shopper.id).total == 0
        assert_ledger_consistent(crm, shopper.id)

    def test_cap_at_zero_writes_off_what_was_spent(self, backend, tenant, clock,
                                                   shopper) -> None:
        crm = shop(backend, tenant, clock)
        record(crm, "A-1", shopper.id, lines=[line(price="10000")])
        crm.loyalty.redeem(shopper.id, 80, key="spend")
        crm.orders.refund("A-1", refund_id="R1")
        clawed = crm.loyalty.history(shopper.id)[-1]
        assert (clawed.points, clawed.written_off, clawed.debt) == (-20, 80, 0)
        assert crm.loyalty.balance(shopper.id).total == 0
        assert_ledger_consistent(crm, shopper.id)

    def test_allow_negative_records_a_debt_that_earnings_repay(self, backend, tenant, clock,
                                                               shopper) -> None:
        crm = shop(backend, tenant, clock, clawback=ClawbackPolicy.ALLOW_NEGATIVE)
        record(crm, "A-1", shopper.id, lines=[line(price="10000")])
        crm.loyalty.redeem(shopper.id, 80, key="spend")
        crm.orders.cancel("A-1")
        clawed = crm.loyalty.history(shopper.id)[-1]
        assert (clawed.points, clawed.debt, clawed.reason) == (-100, 80, "cancellation")
        balance = crm.loyalty.balance(shopper.id)
        assert (balance.total, balance.debt, balance.spendable) == (-80, 80, 0)
        assert_ledger_consistent(crm, shopper.id)
        with pytest.raises(ValidationError, match="points"):
            crm.loyalty.redeem(shopper.id, 1, key="more")
        record(crm, "A-2", shopper.id, lines=[line(price="10000")])
        repaid = crm.loyalty.history(shopper.id)[-1]
        assert (repaid.points, repaid.debt) == (100, -80)
        assert [lot.remaining for lot in crm.loyalty.lots(shopper.id)] == [20]
        assert crm.loyalty.balance(shopper.id).total == 20
        assert_ledger_consistent(crm, shopper.id)

    def test_signup_and_review_bonuses(self, backend, tenant, clock) -> None:
        crm = shop(backend, tenant, clock, signup_bonus=300, review_bonus=50,
                   points_valid_for=VALID_FOR)
        alice = crm.customers.create(email="alice@example.com")
        bob = crm.customers.create(email="bob@example.com")
        [signup] = crm.loyalty.history(alice.id)
        assert (signup.points, signup.reason) == (300, "signup")
        first = crm.loyalty.award_review(alice.id, review_id="rev-1")
        assert crm.loyalty.award_review(alice.id, review_id="rev-1") == first
        with pytest.raises(ConflictError):
            crm.loyalty.award_review(bob.id, review_id="rev-1")
        assert crm.loyalty.balance(alice.id).total == 350
        assert crm.loyalty.balance(bob.id).total == 300
        assert crm.loyalty.lots(alice.id)[0].expires_at == clock.now() + VALID_FOR

    def test_without_a_programme_nothing_earns(self, crm: CRM, shopper) -> None:
        record(crm, "A-1", shopper.id)
        assert crm.loyalty.history(shopper.id) == []
        for call in (lambda: crm.loyalty.quote("A-1"), lambda: crm.loyalty.earn_for_order(
                "A-1"), lambda: crm.loyalty.award_review(shopper.id, review_id="r")):
            with pytest.raises(ValidationError, match="loyalty"):
                call()

    def test_imported_orders_earn_when_asked(self, backend, tenant, clock, shopper) -> None:
        crm = shop(backend, tenant, clock)
        report = crm.orders.import_many([{
            "order_id": "H-1", "customer_id": shopper.id, "placed_at": START,
            "lines": [line(price="5000")], "channel": "web"}])
        assert report.inserted == 1 and crm.loyalty.history(shopper.id) == []
        earned = crm.loyalty.earn_for_order("H-1")
        assert earned is not None and earned.points == 50
        assert crm.loyalty.earn_for_order("H-1") == earned
        record(crm, "H-2", shopper.id)
        crm.orders.cancel("H-2")
        assert crm.loyalty.earn_for_order("H-2") is None
        assert crm.loyalty.balance(shopper.id).total == 50
        assert_ledger_consistent(crm, shopper.id)

    def test_orders_in_other_currencies_earn_from_their_own_rate(self, backend, tenant, clock,
                                                                 shopper) -> None:
        crm = shop(backend, tenant, clock, rates=[BaseRate(1, 100), BaseRate(1, 1, "USD")])
        record(crm, "U-1", shopper.id, lines=[line(price="12.50")], currency="USD")
        record(crm, "E-1", shopper.id, lines=[line(price="12.50")], currency="EUR")
        assert [t.points for t in crm.loyalty.history(shopper.id)] == [12]

    def test_plugins_contribute_rules(self, backend, tenant, clock, recorder, shopper) -> None:
        class Double:
            def evaluate(self, context: EarnContext):
                return [Multiplier("plugin", Decimal(2)), Bonus("plugin", 7)]

        class Rules:
            @hookimpl
            def ecrm_earn_rules(self, crm: CRM):
                return [Double()]

        crm = shop(backend, tenant, clock, plugins=[Rules(), recorder])
        record(crm, "A-1", shopper.id)
        assert crm.loyalty.balance(shopper.id).total == 10 * 2 + 7
        assert "points_changed" in recorder.names()

    def test_a_broken_plugin_rule_writes_nothing(self, backend, tenant, clock,
                                                 shopper) -> None:
        class Negative:
            def evaluate(self, context: EarnContext):
                return [Bonus("oops", -5)]

        class Rules:
            @hookimpl
            def ecrm_earn_rules(self, crm: CRM):
                return [Negative()]

        crm = shop(backend, tenant, clock, plugins=[Rules(), Recorder()])
        with pytest.raises(ValidationError, match="earn_rules"):
            record(crm, "A-1", shopper.id)
        assert crm.orders.for_customer(shopper.id) == []
        assert crm.loyalty.history(shopper.id) == []
