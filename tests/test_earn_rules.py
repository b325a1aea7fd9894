"""The pure rules of earning: quotes, rounding, clawback shares and programme settings."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.customers import Customer
from ecrm.domain.earning import (
    BaseRate,
    BirthdayMonthBonus,
    CampaignMultiplier,
    EarnContext,
    FirstPurchaseBonus,
    NthPurchaseBonus,
    ProductBonus,
    Rounding,
    clawback_target,
    quote,
)
from ecrm.domain.loyalty import ClawbackPolicy, PointLot, clawback
from ecrm.domain.orders import Order, OrderLine, OrderStatus
from ecrm.domain.program import LoyaltyProgram
from ecrm.errors import ValidationError

START = datetime(2026, 4, 1, tzinfo=timezone.utc)
JST = timezone(timedelta(hours=9))
WINDOW = timedelta(days=14)


def order(*lines: OrderLine, placed_at: datetime = START, refunded: int = 0,
          status: OrderStatus = OrderStatus.PLACED) -> Order:
    total = sum((line.amount for line in lines), Decimal(0))
    return Order("A-1", "c1", placed_at, "web", "JPY", tuple(lines), START, status, total,
                 Decimal(refunded))


def context(an_order: Order, number: int = 1, born: date | None = None,
            zone: timezone = timezone.utc) -> EarnContext:
    customer = Customer(id="c1", created_at=START, updated_at=START, signed_up_at=START,
                        birth_date=born)
    return EarnContext(an_order, customer, number, zone)


amounts = st.integers(min_value=1, max_value=10**7)


@given(amounts, st.sampled_from(list(Rounding)))
def test_base_points_are_the_rounded_rate(amount: int, rounding: Rounding) -> None:
    got = quote(context(order(OrderLine("S", 1, Decimal(amount)))), [BaseRate(1, 100)], [],
                rounding)
    exact = Decimal(amount) / 100
    assert got.points == rounding.apply(exact)
    assert exact - 1 < got.points < exact + 1


@given(amounts, st.integers(1, 5), st.integers(0, 1000))
def test_multipliers_scale_the_base_and_bonuses_add_after(amount: int, factor: int,
                                                          bonus: int) -> None:
    rules = [CampaignMultiplier(factor, START, START + WINDOW), FirstPurchaseBonus(bonus)]
    got = quote(context(order(OrderLine("S", 1, Decimal(amount)))), [BaseRate(1, 100)], rules,
                Rounding.DOWN)
    assert got.points == amount * factor // 100 + bonus


def test_campaigns_apply_inside_their_window_and_channels_only() -> None:
    rule = CampaignMultiplier(3, START, START + WINDOW, channels={"line"})
    inside = order(OrderLine("S", 1, Decimal(100)))
    assert list(rule.evaluate(context(inside))) == []  # channel "web"
    line_rule = CampaignMultiplier(3, START, START + WINDOW)
    late = order(OrderLine("S", 1, Decimal(100)), placed_at=START + WINDOW)
    assert list(line_rule.evaluate(context(late))) == []
    assert [m.factor for m in line_rule.evaluate(context(inside))] == [3]


def test_product_bonus_counts_units_by_sku_or_category() -> None:
    rule = ProductBonus(5, skus={"A"}, categories={"tea"})
    got = rule.evaluate(context(order(OrderLine("A", 2, Decimal(1)),
                                      OrderLine("B", 3, Decimal(1), "tea"),
                                      OrderLine("C", 7, Decimal(1), "coffee"))))
    assert [b.points for b in got] == [25]


@pytest.mark.parametrize(("number", "every", "hit"), [(3, False, True), (6, False, False),
                                                      (6, True, True), (4, True, False)])
def test_nth_purchase(number: int, every: bool, hit: bool) -> None:
    rule = NthPurchaseBonus(3, 100, every=every)
    assert bool(list(rule.evaluate(context(order(), number)))) is hit


def test_birthday_month_follows_the_shops_calendar() -> None:
    # 2026-03-31 20:00 UTC is already April 1st in Tokyo.
    late_march = order(OrderLine("S", 1, Decimal(100)),
                       placed_at=datetime(2026, 3, 31, 20, tzinfo=timezone.utc))
    rule = BirthdayMonthBonus(points=30)
    assert list(rule.evaluate(context(late_march, born=date(1990, 4, 9)))) == []
    assert [b.points for b in rule.evaluate(context(late_march, born=date(1990, 4, 9),
                                                    zone=JST))] == [30]
    assert list(rule.evaluate(context(late_march))) == []  # no birth date


@given(st.integers(0, 10**6), st.integers(1, 10**6), st.data())
def test_clawback_shares_grow_with_refunds_and_end_at_everything(points: int, total: int,
                                                                 data: st.DataObject) -> None:
    refunds = sorted(data.draw(st.lists(st.integers(0, total), max_size=5)))
    shares = [clawback_target(points, order(OrderLine("S", 1, Decimal(total)),
                                            refunded=r)) for r in refunds]
    assert shares == sorted(shares)
    assert all(0 <= share <= points for share in shares)
    full = order(OrderLine("S", 1, Decimal(total)), refunded=total,
                 status=OrderStatus.REFUNDED)
    assert clawback_target(points, full) == points
    cancelled = order(OrderLine("S", 1, Decimal(total)), status=OrderStatus.CANCELLED)
    assert clawback_target(points, cancelled) == points


def lot(lot_id: str, remaining: int) -> PointLot:
    return PointLot(lot_id, "c1", "t", 1000, remaining, START, START)


@given(st.lists(st.integers(0, 500), max_size=4), st.integers(1, 2000),
       st.sampled_from(list(ClawbackPolicy)))
def test_clawback_takes_what_lots_hold_then_follows_the_policy(
        held: list[int], points: int, policy: ClawbackPolicy) -> None:
    lots = [lot(f"l{i}", amount) for i, amount in enumerate(held)]
    tx = clawback("t2", "c1", points, lots, START, policy=policy, first_lot_id=None,
                  reference="A-1", reason="refund")
    taken = sum(use.points for use in tx.lot_uses)
    assert taken == min(points, sum(held))
    by_id = {x.id: x.remaining for x in lots}
    assert all(0 < use.points <= by_id[use.lot_id] for use in tx.lot_uses)
    assert -tx.points + tx.written_off == points
    assert tx.debt == (points - taken if policy is ClawbackPolicy.ALLOW_NEGATIVE else 0)
    assert sum(entry.points for entry in tx.entries) == 0


def test_clawback_starts_with_the_orders_own_lot() -> None:
    lots = [lot("a", 50), lot("b", 50)]
    tx = clawback("t2", "c1", 60, lots, START, policy=ClawbackPolicy.CAP_AT_ZERO,
                  first_lot_id="b", reference="A-1", reason="refund")
    assert {u.lot_id: u.points for u in tx.lot_uses} == {"b": 50, "a": 10}


@pytest.mark.parametrize(("options", "field"), [
    ({"rates": [BaseRate(1, 100), BaseRate(2, 100)]}, "rates"),
    ({"rules": [object()]}, "rules"),
    ({"rounding": "sideways"}, "rounding"),
    ({"clawback": "maybe"}, "clawback"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"return_window": timedelta(days=-1)}, "return_window"),
    ({"points_valid_for": timedelta(0)}, "points_valid_for"),
    ({"signup_bonus": -1}, "signup_bonus"),
])
def test_a_bad_programme_is_refused(options, field) -> None:
    with pytest.raises(ValidationError) as error:
        LoyaltyProgram(**options)
    assert error.value.field == field


@pytest.mark.parametrize(("make", "field"), [
    (lambda: BaseRate(1, 0), "per"),
    (lambda: ProductBonus(5), "skus"),
    (lambda: NthPurchaseBonus(0, 5), "n"),
    (lambda: CampaignMultiplier(2, START, START), "ends_at"),
    (lambda: CampaignMultiplier(2, datetime(2026, 1, 1), START), "starts_at"),
    (lambda: CampaignMultiplier(-1, START, START + WINDOW), "factor"),
    (lambda: FirstPurchaseBonus(1.5), "points"),
])
def test_bad_rules_are_refused(make, field) -> None:
    with pytest.raises(ValidationError) as error:
        make()
    assert error.value.field == field

