"""The pure rules of coupons: discounts, rounding, windows, eligibility and limits."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from ecrm.domain import coupons as rules
from ecrm.domain.coupons import CODE_ALPHABET, Coupon, CouponRedemption
from ecrm.domain.money import CURRENCY_EXPONENTS, from_minor
from ecrm.errors import ConflictError, ValidationError

NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
CURRENCIES = st.sampled_from(["JPY", "USD", "KWD"])  # 0, 2 and 3 decimal places
MINOR = st.integers(1, 10**12)
BASIS_POINTS = st.integers(1, 10_000)


def coupon(**terms: Any) -> Coupon:
    """A coupon built through the same validation the service uses."""
    fields = {"amount": 500} if "percent" not in terms else {}
    fields.update(terms)
    return rules.new_coupon("TEST", NOW, rules.coupon_terms(fields, default_currency="JPY",
                                                            now=NOW))


def redeemable(c: Coupon, total: object = 1000, **facts: Any) -> Decimal:
    """The discount of ``c`` on an order of ``total``, with defaults for the facts."""
    arguments: dict[str, Any] = {"order_total": Decimal(total), "currency": c.currency,
                                 "now": NOW, "customer_id": None}
    arguments.update(facts)
    return rules.check_redeemable(c, **arguments)


def one_redemption(c: Coupon, discount: Decimal) -> CouponRedemption:
    return CouponRedemption("r1", c.code, "O-1", None, c.currency, discount, discount, NOW)


# -- discounts -------------------------------------------------------------------------


@given(currency=CURRENCIES, amount=MINOR, total=MINOR)
def test_fixed_discount_is_the_amount_at_most_the_order(currency: str, amount: int,
                                                        total: int) -> None:
    c = coupon(amount=from_minor(amount, currency), currency=currency)
    discount = rules.compute_discount(c, from_minor(total, currency))
    assert discount == from_minor(min(amount, total), currency)


@given(currency=CURRENCIES, bp=BASIS_POINTS, total=MINOR, cap=st.none() | MINOR)
def test_percentage_rounds_down_to_the_minor_unit_and_respects_the_cap(
        currency: str, bp: int, total: int, cap: int | None) -> None:
    percent = Decimal(bp).scaleb(-2)
    c = coupon(percent=percent, currency=currency,
               max_discount=None if cap is None else from_minor(cap, currency))
    order = from_minor(total, currency)
    discount = rules.compute_discount(c, order)
    unit = Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency])
    exact = order * percent / 100
    assert discount == discount.quantize(unit)  # whole minor units
    assert 0 <= discount <= order
    if cap is None or exact <= from_minor(cap, currency):
        assert discount <= exact < discount + unit  # rounded down, never up
    else:
        assert discount == from_minor(cap, currency)


@given(currency=CURRENCIES, total=MINOR)
def test_a_hundred_percent_takes_the_whole_order(currency: str, total: int) -> None:
    c = coupon(percent=100, currency=currency)
    assert rules.compute_discount(c, from_minor(total, currency)) == from_minor(total, currency)


def test_rounding_examples() -> None:
    assert rules.compute_discount(coupon(percent="12.5"), Decimal(999)) == Decimal(124)
    usd = coupon(percent="33.33", currency="USD")
    assert rules.compute_discount(usd, Decimal("10.00")) == Decimal("3.33")
    assert rules.compute_discount(usd, Decimal("0.02")) == Decimal("0.00")


# -- eligibility -----------------------------------------------------------------------


@given(offset=st.integers(-10**6, 10**6))
def test_the_validity_window_includes_its_start_and_excludes_its_end(offset: int) -> None:
    start, end = NOW, NOW + timedelta(seconds=1000)
    c = attrs.evolve(coupon(), valid_from=start, valid_until=end)
    at = NOW + timedelta(seconds=offset)
    if start <= at < end:
        assert redeemable(c, now=at) == Decimal(500)
    else:
        with pytest.raises(ValidationError) as raised:
            redeemable(c, now=at)
        assert raised.value.field == "code"
        assert ("expired" in raised.value.message) == (at >= end)


@given(minimum=st.integers(0, 5000), total=st.integers(1, 10_000))
def test_minimum_order(minimum: int, total: int) -> None:
    c = coupon(min_order=minimum)
    if total >= minimum:
        assert redeemable(c, total) == min(Decimal(500), Decimal(total))
    else:
        with pytest.raises(ValidationError) as raised:
            redeemable(c, total)
        assert raised.value.field == "order_total"


def test_currency_must_match() -> None:
    with pytest.raises(ValidationError) as raised:
        redeemable(coupon(), currency="USD")
    assert raised.value.field == "currency"


@pytest.mark.parametrize("terms", [{"members_only": True}, {"issued_only": True},
                                   {"tiers": ["gold"]}, {"per_customer_limit": 1}])
def test_coupons_for_members_refuse_guests(terms: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        redeemable(coupon(**terms), customer_id=None)
    assert raised.value.field == "customer_id"


@given(tiers=st.sets(st.sampled_from(["bronze", "silver", "gold"])),
       tier=st.none() | st.sampled_from(["bronze", "silver", "gold"]))
def test_tier_only_coupons(tiers: set[str], tier: str | None) -> None:
    c = coupon(tiers=tiers)
    if not tiers or tier in tiers:
        assert redeemable(c, customer_id="c1", customer_tier=tier) == Decimal(500)
    else:
        with pytest.raises(ValidationError, match="tiers") as raised:
            redeemable(c, customer_id="c1", customer_tier=tier)
        assert raised.value.field == "customer_id"


def test_issued_only_coupons_need_an_issuance() -> None:
    c = coupon(issued_only=True)
    assert redeemable(c, customer_id="c1", issued=True) == Decimal(500)
    with pytest.raises(ValidationError, match="not issued"):
        redeemable(c, customer_id="c1", issued=False)


# -- limits ----------------------------------------------------------------------------


@given(max_uses=st.integers(1, 5), uses=st.integers(0, 6))
def test_use_limit(max_uses: int, uses: int) -> None:
    c = attrs.evolve(coupon(max_uses=max_uses), uses=uses)
    if uses < max_uses:
        assert redeemable(c) == Decimal(500)
    else:
        with pytest.raises(ConflictError, match="used up"):
            redeemable(c)


@given(limit=st.integers(1, 5), used=st.integers(0, 6))
def test_per_customer_limit(limit: int, used: int) -> None:
    c = coupon(per_customer_limit=limit)
    if used < limit:
        assert redeemable(c, customer_id="c1", customer_uses=used) == Decimal(500)
    else:
        with pytest.raises(ConflictError, match="c1"):
            redeemable(c, customer_id="c1", customer_uses=used)


@given(budget=st.integers(1, 3000), given_=st.integers(0, 3000), total=st.integers(1, 2000))
def test_budget_refuses_a_discount_larger_than_what_is_left(budget: int, given_: int,
                                                            total: int) -> None:
    assume(given_ <= budget)
    c = attrs.evolve(coupon(percent=50, budget=budget), discount_given=Decimal(given_))
    discount = rules.compute_discount(c, Decimal(total))
    if discount <= budget - given_:
        assert redeemable(c, total) == discount
    else:
        with pytest.raises(ConflictError, match="budget"):
            redeemable(c, total)


@given(currency=CURRENCIES, amount=MINOR, uses=st.integers(0, 100))
def test_restore_undoes_redeem(currency: str, amount: int, uses: int) -> None:
    c = attrs.evolve(coupon(amount=from_minor(amount, currency), currency=currency),
                     uses=uses, discount_given=from_minor(amount * uses, currency))
    redemption = one_redemption(c, from_minor(amount, currency))
    used = rules.redeem(c, redemption)
    assert (used.uses, used.discount_given) == (uses + 1, c.discount_given + redemption.discount)
    back, restored = rules.restore(used, redemption, NOW)
    assert (back.uses, back.discount_given) == (c.uses, c.discount_given)
    assert restored.restored_at == NOW
    with pytest.raises(ConflictError, match="already restored"):
        rules.restore(back, restored, NOW)


# -- codes and terms -------------------------------------------------------------------


@given(st.text(alphabet="abcxyzABCXYZ0189-_", min_size=3, max_size=64),
       st.sampled_from(["", " ", "\t"]))
def test_codes_are_stripped_and_upper_cased(code: str, blank: str) -> None:
    normal = rules.normalise_code("code", f"{blank}{code}{blank}")
    assert normal == code.upper() == rules.normalise_code("code", normal)


@pytest.mark.parametrize("bad", ["AB", "x" * 65, "TEN %", "ÄRGER", "A\x00B", "", 42, None])
def test_malformed_codes_are_refused(bad: object) -> None:
    with pytest.raises(ValidationError) as raised:
        rules.normalise_code("code", bad)
    assert raised.value.field == "code"


@given(prefix=st.text(alphabet="ab-_9", max_size=8), length=st.integers(6, 32))
def test_random_codes_use_the_unambiguous_alphabet(prefix: str, length: int) -> None:
    clean, size = rules.generation_shape(prefix, length)
    code = rules.random_code(clean, size)
    assert code.startswith(prefix.upper()) and len(code) == len(clean) + length
    assert set(code[len(clean):]) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("01OIL")
    assert rules.normalise_code("code", code) == code


@pytest.mark.parametrize(("prefix", "length", "field"), [
    ("A B", 10, "prefix"), ("", 5, "length"), ("", 33, "length"), ("X" * 40, 30, "length"),
    (7, 10, "prefix"), ("", "10", "length")])
def test_bad_generation_shapes(prefix: object, length: object, field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        rules.generation_shape(prefix, length)
    assert raised.value.field == field


BAD_TERMS: list[tuple[str, dict[str, Any]]] = [
    ("amount", {}),
    ("amount", {"amount": 100, "percent": 10}),
    ("amount", {"amount": 0}),
    ("amount", {"amount": "-5"}),
    ("amount", {"amount": 10.5}),
    ("amount", {"amount": "10.5"}),  # yen have no minor unit
    ("percent", {"percent": 0}),
    ("percent", {"percent": "100.01"}),
    ("percent", {"percent": "12.345"}),
    ("max_discount", {"amount": 100, "max_discount": 50}),
    ("max_discount", {"percent": 10, "max_discount": 0}),
    ("currency", {"amount": 1, "currency": "yen"}),
    ("min_order", {"amount": 1, "min_order": -1}),
    ("budget", {"amount": 1, "budget": 0}),
    ("budget", {"amount": 1, "budget": 10**16}),
    ("valid_from", {"amount": 1, "valid_from": datetime(2026, 5, 1)}),
    ("valid_until", {"amount": 1, "valid_until": NOW}),
    ("valid_until", {"amount": 1, "valid_from": NOW + timedelta(days=2),
                     "valid_until": NOW + timedelta(days=1)}),
    ("max_uses", {"amount": 1, "max_uses": 0}),
    ("max_uses", {"amount": 1, "max_uses": True}),
    ("per_customer_limit", {"amount": 1, "per_customer_limit": -1}),
    ("members_only", {"amount": 1, "members_only": "yes"}),
    ("tiers", {"amount": 1, "tiers": "gold"}),
    ("tiers[1]", {"amount": 1, "tiers": ["gold", " "]}),
    ("description", {"amount": 1, "description": "x" * 501}),
    ("description", {"amount": 1, "description": "a\x00b"}),
]


@pytest.mark.parametrize(("field", "terms"), BAD_TERMS,
                         ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_TERMS)])
def test_bad_terms_name_the_field(field: str, terms: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as raised:
        rules.coupon_terms(terms, default_currency="JPY", now=NOW)
    assert raised.value.field == field


def test_unknown_terms_are_a_type_error() -> None:
    with pytest.raises(TypeError, match="max_use"):
        rules.coupon_terms({"amount": 1, "max_use": 1}, default_currency="JPY", now=NOW)


def test_terms_are_normalised() -> None:
    terms = rules.coupon_terms({"percent": "12.5", "currency": "USD", "min_order": "20",
                                "tiers": ["gold", "gold", " silver "]},
                               default_currency="JPY", now=NOW)
    assert terms["percent"] == Decimal("12.50") and str(terms["min_order"]) == "20.00"
    assert terms["tiers"] == frozenset({"gold", "silver"})
    assert rules.terms_of(rules.new_coupon("X1X", NOW, terms)) == terms


@given(currency=CURRENCIES, total=MINOR)
def test_order_amounts_keep_the_currency_precision(currency: str, total: int) -> None:
    amount = from_minor(total, currency)
    assert rules.order_amount("order_total", amount, currency) == amount
    finer = amount + Decimal(1).scaleb(-CURRENCY_EXPONENTS[currency] - 1)
    with pytest.raises(ValidationError, match="decimal places"):
        rules.order_amount("order_total", finer, currency)
    with pytest.raises(ValidationError, match="too large"):
        rules.order_amount("order_total", from_minor(rules.MAX_MINOR + total, currency),
                           currency)
