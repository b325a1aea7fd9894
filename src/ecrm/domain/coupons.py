"""Coupons and vouchers: value classes and the pure rules of creating, redeeming and
restoring them.

A coupon gives a fixed amount or a percentage off an order, in one currency. Its counters
(``uses``, ``discount_given``) count the redemptions that were not restored, so a refund
that restores a redemption gives the use and the budget back.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from ecrm.domain import money
from ecrm.domain import validation as check
from ecrm.errors import ConflictError, ValidationError

#: Letters and digits of generated codes: no 0/O, 1/I/L, which read alike.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_CODE = re.compile(r"^[A-Z0-9_-]{3,64}$")
_PREFIX = re.compile(r"^[A-Z0-9_-]{0,58}$")
MAX_CODE_LENGTH = 64
MIN_RANDOM_LENGTH, MAX_RANDOM_LENGTH = 6, 32
MAX_USES = 10**9
#: The largest amount in minor units: money columns are 64-bit, and a coupon's
#: ``discount_given`` must still fit after many redemptions.
MAX_MINOR = 10**15
#: Percentages have at most two decimals (a basis point): 12.5 and 33.33 are fine.
PERCENT_PLACES = 2

#: The keyword arguments that make a coupon's terms (``create``, ``generate``,
#: ``import_codes``).
TERM_NAMES = ("amount", "percent", "max_discount", "currency", "min_order", "valid_from",
              "valid_until", "max_uses", "per_customer_limit", "budget", "members_only",
              "tiers", "issued_only", "description")


class DiscountKind(str, enum.Enum):
    """How a coupon's discount is computed."""

    FIXED = "fixed"
    PERCENT = "percent"


@attrs.frozen
class Coupon:
    """A coupon code and its terms. ``uses`` and ``discount_given`` count the redemptions
    not restored. Money is in ``currency``; ``None`` means "no such limit"."""

    code: str
    kind: DiscountKind
    currency: str
    created_at: datetime
    amount: Decimal | None = None
    percent: Decimal | None = None
    max_discount: Decimal | None = None
    min_order: Decimal | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    max_uses: int | None = None
    per_customer_limit: int | None = None
    budget: Decimal | None = None
    members_only: bool = False
    tiers: frozenset[str] = frozenset()
    issued_only: bool = False
    description: str | None = None
    uses: int = 0
    discount_given: Decimal = Decimal(0)

    @property
    def uses_left(self) -> int | None:
        """Redemptions still possible, or None when unlimited."""
        return None if self.max_uses is None else self.max_uses - self.uses

    @property
    def budget_left(self) -> Decimal | None:
        """Discount the coupon may still give, or None when it has no budget."""
        return None if self.budget is None else self.budget - self.discount_given

    def valid_at(self, now: datetime) -> bool:
        """True inside the validity window: ``valid_from <= now < valid_until``."""
        return ((self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))


@attrs.frozen
class CouponRedemption:
    """One use of a coupon on one order. ``restored_at`` is set when a refund or a
    cancellation gave the use back; the redemption is kept as history."""

    id: str
    code: str
    order_id: str
    customer_id: str | None
    currency: str
    order_total: Decimal
    discount: Decimal
    redeemed_at: datetime
    restored_at: datetime | None = None

    @property
    def restored(self) -> bool:
        """True once the use was given back."""
        return self.restored_at is not None


@attrs.frozen
class CouponIssue:
    """A coupon handed to one customer (what ``issued_only`` coupons check)."""

    id: str
    code: str
    customer_id: str
    issued_at: datetime


# -- codes -----------------------------------------------------------------------------


def normalise_code(field: str, value: object) -> str:
    """A coupon code stripped and upper-cased: 3 to 64 of ``A-Z 0-9 - _``."""
    if not isinstance(value, str):
        raise ValidationError(field, f"expected a string, got {type(value).__name__}")
    code = value.strip().upper()
    if not _CODE.match(code):
        raise ValidationError(field, f"{value!r} is not a coupon code: 3 to 64 of A-Z, 0-9, "
                                     "'-' and '_'")
    return code


def generation_shape(prefix: object, length: object) -> tuple[str, int]:
    """The normalised ``prefix`` and the checked random ``length`` of generated codes."""
    if not isinstance(prefix, str):
        raise ValidationError("prefix", f"expected a string, got {type(prefix).__name__}")
    clean = prefix.strip().upper()
    if not _PREFIX.match(clean):
        raise ValidationError("prefix", f"{prefix!r} may only hold A-Z, 0-9, '-' and '_'")
    size = check.positive_int("length", length)
    if not MIN_RANDOM_LENGTH <= size <= MAX_RANDOM_LENGTH:
        raise ValidationError("length", f"must be from {MIN_RANDOM_LENGTH} to "
                                        f"{MAX_RANDOM_LENGTH}")
    if len(clean) + size > MAX_CODE_LENGTH:
        raise ValidationError("length", f"prefix and random part exceed {MAX_CODE_LENGTH}")
    return clean, size


def random_code(prefix: str, length: int) -> str:
    """``prefix`` and ``length`` characters drawn by a cryptographic generator."""
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


# -- terms -----------------------------------------------------------------------------


def coupon_terms(fields: Mapping[str, Any], *, default_currency: str, now: datetime
                 ) -> dict[str, Any]:
    """Validate a coupon's terms (keyword arguments named in :data:`TERM_NAMES`) and
    return them normalised. Unknown names are a ``TypeError``, as for any function."""
    unknown = sorted(set(fields) - set(TERM_NAMES))
    if unknown:
        raise TypeError(f"unexpected coupon term(s): {', '.join(unknown)}")
    currency = money.check_currency("currency", fields.get("currency") or default_currency)
    terms: dict[str, Any] = {"currency": currency}
    terms.update(_discount(fields, currency))
    terms["min_order"] = _money("min_order", fields.get("min_order"), currency, zero_ok=True)
    terms["budget"] = _money("budget", fields.get("budget"), currency)
    terms.update(_window(fields.get("valid_from"), fields.get("valid_until"), now))
    terms["max_uses"] = _count("max_uses", fields.get("max_uses"))
    terms["per_customer_limit"] = _count("per_customer_limit", fields.get("per_customer_limit"))
    terms["members_only"] = _flag("members_only", fields.get("members_only", False))
    terms["issued_only"] = _flag("issued_only", fields.get("issued_only", False))
    terms["tiers"] = _tiers(fields.get("tiers") or ())
    terms["description"] = check.text("description", fields.get("description"), 500)
    return terms


def new_coupon(code: str, now: datetime, terms: Mapping[str, Any]) -> Coupon:
    """A fresh coupon with validated ``terms`` and no uses."""
    return Coupon(code=code, created_at=now,
                  discount_given=money.from_minor(0, terms["currency"]), **terms)


def terms_of(coupon: Coupon) -> dict[str, Any]:
    """The terms a coupon was created with (what a repeated create must match)."""
    return {name: getattr(coupon, name) for name in TERM_NAMES} | {"kind": coupon.kind}


def _discount(fields: Mapping[str, Any], currency: str) -> dict[str, Any]:
    amount, percent = fields.get("amount"), fields.get("percent")
    if (amount is None) == (percent is None):
        raise ValidationError("amount", "give exactly one of amount or percent")
    if amount is not None:
        if fields.get("max_discount") is not None:
            raise ValidationError("max_discount", "only percentage coupons have a cap")
        return {"kind": DiscountKind.FIXED, "amount": _money("amount", amount, currency),
                "percent": None, "max_discount": None}
    return {"kind": DiscountKind.PERCENT, "amount": None, "percent": _percent(percent),
            "max_discount": _money("max_discount", fields.get("max_discount"), currency)}


def _percent(value: object) -> Decimal:
    rate = money.to_decimal("percent", value)
    if not Decimal(0) < rate <= Decimal(100):
        raise ValidationError("percent", f"must be more than 0 and at most 100, got {rate}")
    rounded = rate.quantize(Decimal(1).scaleb(-PERCENT_PLACES))
    if rate != rounded:
        raise ValidationError("percent", f"at most {PERCENT_PLACES} decimal places")
    return rounded


def _money(field: str, value: object, currency: str, *, zero_ok: bool = False
           ) -> Decimal | None:
    if value is None:
        return None
    amount = money.to_decimal(field, value)
    if amount < 0 or (amount == 0 and not zero_ok):
        raise ValidationError(field, f"must be {'zero or more' if zero_ok else 'positive'}, "
                                     f"got {amount}")
    return money.from_minor(_storable_minor(field, amount, currency), currency)


def _window(valid_from: object, valid_until: object, now: datetime) -> dict[str, Any]:
    start = check.aware("valid_from", valid_from, required=False)
    end = check.aware("valid_until", valid_until, required=False)
    if end is not None and start is not None and end <= start:
        raise ValidationError("valid_until", "must be after valid_from")
    if end is not None and end <= now:
        raise ValidationError("valid_until", "is already past")
    return {"valid_from": start, "valid_until": end}


def _count(field: str, value: object) -> int | None:
    if value is None:
        return None
    count = check.positive_int(field, value)
    if count > MAX_USES:
        raise ValidationError(field, f"at most {MAX_USES}")
    return count


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, f"expected True or False, got {type(value).__name__}")
    return value


def _tiers(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValidationError("tiers", "expected a collection of tier names")
    return frozenset(check.required_text(f"tiers[{i}]", name, 64)
                     for i, name in enumerate(value))


# -- redemption ------------------------------------------------------------------------


def order_amount(field: str, value: object, currency: str) -> Decimal:
    """An order total: positive, in ``currency``'s minor unit at most."""
    amount = money.to_decimal(field, value)
    if amount <= 0:
        raise ValidationError(field, f"must be positive, got {amount}")
    return money.from_minor(_storable_minor(field, amount, currency), currency)


def _storable_minor(field: str, amount: Decimal, currency: str) -> int:
    """``amount`` in minor units, refused when a 64-bit column cannot hold it."""
    minor = money.to_minor(field, amount, currency)
    if minor > MAX_MINOR:
        raise ValidationError(field, "is too large")
    return minor


def compute_discount(coupon: Coupon, order_total: Decimal) -> Decimal:
    """The discount on an order of ``order_total`` (in the coupon's currency).

    Fixed: the amount, at most the order total. Percentage: ``order_total * percent /
    100`` rounded down to the currency's minor unit, at most ``max_discount``.
    """
    currency = coupon.currency
    total = money.to_minor("order_total", order_total, currency)
    if coupon.kind is DiscountKind.FIXED:
        assert coupon.amount is not None
        minor = money.to_minor("amount", coupon.amount, currency)
    else:
        assert coupon.percent is not None
        basis_points = int(coupon.percent.scaleb(PERCENT_PLACES))
        minor = total * basis_points // 10_000
        if coupon.max_discount is not None:
            minor = min(minor, money.to_minor("max_discount", coupon.max_discount, currency))
    return money.from_minor(min(minor, total), currency)


def check_redeemable(coupon: Coupon, *, order_total: Decimal, currency: str, now: datetime,
                     customer_id: str | None, customer_tier: str | None = None,
                     issued: bool = False, customer_uses: int = 0) -> Decimal:
    """The discount ``coupon`` gives on this order, or the reason it cannot be redeemed.

    ``customer_id`` is None for a guest; ``customer_tier`` is the customer's tier (None:
    none known), ``issued`` whether the coupon was issued to them and ``customer_uses``
    how many of their redemptions of it are not restored.

    :raises ValidationError: wrong currency, outside the validity window, a customer the
        coupon is not for, or an order below the minimum.
    :raises ConflictError: the use limit, the customer's limit or the budget is reached.
    """
    if currency != coupon.currency:
        raise ValidationError("currency", f"coupon {coupon.code} is for orders in "
                                          f"{coupon.currency}, not {currency}")
    _check_window(coupon, now)
    _check_customer(coupon, customer_id, customer_tier, issued)
    if coupon.min_order is not None and order_total < coupon.min_order:
        raise ValidationError("order_total", f"coupon {coupon.code} needs an order of at "
                                             f"least {coupon.min_order} {coupon.currency}")
    discount = compute_discount(coupon, order_total)
    _check_limits(coupon, customer_id, customer_uses, discount)
    return discount


def _check_window(coupon: Coupon, now: datetime) -> None:
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise ValidationError("code", f"coupon {coupon.code} is not valid before "
                                      f"{coupon.valid_from.isoformat()}")
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise ValidationError("code", f"coupon {coupon.code} expired at "
                                      f"{coupon.valid_until.isoformat()}")


def _check_customer(coupon: Coupon, customer_id: str | None, tier: str | None,
                    issued: bool) -> None:
    if customer_id is None:
        reason = _why_a_customer_is_needed(coupon)
        if reason:
            raise ValidationError("customer_id", f"coupon {coupon.code} {reason}: name the "
                                                 "customer")
        return
    if coupon.tiers and tier not in coupon.tiers:
        allowed = ", ".join(sorted(coupon.tiers))
        raise ValidationError("customer_id", f"coupon {coupon.code} is for the tiers "
                                             f"{allowed} only")
    if coupon.issued_only and not issued:
        raise ValidationError("customer_id", f"coupon {coupon.code} was not issued to "
                                             f"customer {customer_id}")


def _why_a_customer_is_needed(coupon: Coupon) -> str | None:
    if coupon.members_only:
        return "is for members only"
    if coupon.issued_only:
        return "is for the customers it was issued to"
    if coupon.tiers:
        return "is for some tiers only"
    if coupon.per_customer_limit is not None:
        return "is limited per customer"
    return None


def _check_limits(coupon: Coupon, customer_id: str | None, customer_uses: int,
                  discount: Decimal) -> None:
    if coupon.max_uses is not None and coupon.uses >= coupon.max_uses:
        raise ConflictError(f"coupon {coupon.code} was used up ({coupon.max_uses} uses)")
    limit = coupon.per_customer_limit
    if limit is not None and customer_uses >= limit:
        raise ConflictError(f"customer {customer_id} reached the limit of {limit} use(s) of "
                            f"coupon {coupon.code}")
    left = coupon.budget_left
    if left is not None and discount > left:
        raise ConflictError(f"coupon {coupon.code} has {left} {coupon.currency} of budget "
                            f"left, less than the discount of {discount}")


def redeem(coupon: Coupon, redemption: CouponRedemption) -> Coupon:
    """The coupon after ``redemption`` used it."""
    return attrs.evolve(coupon, uses=coupon.uses + 1,
                        discount_given=coupon.discount_given + redemption.discount)


def restore(coupon: Coupon, redemption: CouponRedemption, now: datetime
            ) -> tuple[Coupon, CouponRedemption]:
    """The coupon and the redemption after the use was given back."""
    if redemption.restored:
        raise ConflictError(f"the redemption of {coupon.code} by order "
                            f"{redemption.order_id} was already restored")
    back = attrs.evolve(coupon, uses=coupon.uses - 1,
                        discount_given=coupon.discount_given - redemption.discount)
    return back, attrs.evolve(redemption, restored_at=now)


def same_redemption(stored: CouponRedemption, *, customer_id: str | None,
                    order_total: Decimal, currency: str) -> bool:
    """True when a repeated redeem asks for what ``stored`` already answered."""
    return (stored.customer_id, stored.order_total, stored.currency) == (
        customer_id, order_total, currency)
