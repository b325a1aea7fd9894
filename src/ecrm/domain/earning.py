"""Earn rules: how many points an order is worth.

A quote starts from the base rate (points per amount spent), multiplies it by every
multiplier that applies (tier, campaign, birthday month, ...), rounds once, and adds the
fixed bonuses (first purchase, Nth purchase, SKU and category bonuses, ...)::

    points = round(base x product of multipliers) + sum of bonuses

Every rule is a small frozen class with an ``evaluate(context)`` method; plugins contribute
their own rules of the same shape through the ``ecrm_earn_rules`` hook.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Protocol, runtime_checkable

import attrs

from ecrm.domain.customers import Customer
from ecrm.domain.loyalty import bonus_points
from ecrm.domain.money import check_currency, to_decimal
from ecrm.domain.orders import Order, OrderLine, OrderStatus
from ecrm.errors import ValidationError


class Rounding(str, enum.Enum):
    """How a fractional number of points becomes whole."""

    DOWN = "down"
    HALF_UP = "half_up"
    UP = "up"

    def apply(self, value: Decimal) -> int:
        """``value`` rounded to a whole number of points."""
        mode = {"down": ROUND_FLOOR, "half_up": ROUND_HALF_UP, "up": ROUND_CEILING}[self.value]
        return int(value.to_integral_value(rounding=mode))


@attrs.frozen
class EarnContext:
    """What rules may look at: the order, its customer, ``order_number`` (1 for the
    customer's first order that is not cancelled, counting this one) and the customer's
    ``tier`` before the order. ``timezone`` is the shop's, for calendar rules."""

    order: Order
    customer: Customer
    order_number: int
    timezone: tzinfo
    tier: str | None = None

    @property
    def local_placed_at(self) -> datetime:
        """When the order was placed, on the shop's calendar."""
        return self.order.placed_at.astimezone(self.timezone)


@attrs.frozen
class Bonus:
    """A fixed number of points added after multipliers."""

    label: str
    points: int


@attrs.frozen
class Multiplier:
    """A factor applied to the base points."""

    label: str
    factor: Decimal


Effect = Bonus | Multiplier


@runtime_checkable
class EarnRule(Protocol):
    """Anything with ``evaluate(context)`` returning the bonuses and multipliers that apply
    (an empty iterable when the rule does not)."""

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The effects of this rule on the order in ``context``."""


@attrs.frozen
class EarnQuote:
    """How an order's points were worked out."""

    base: Decimal
    multipliers: tuple[Multiplier, ...]
    bonuses: tuple[Bonus, ...]
    points: int


def _factor(value: object) -> Decimal:
    factor = to_decimal("factor", value)
    if factor < 0:
        raise ValidationError("factor", f"must not be negative, got {factor}")
    return factor


_bonus_points = bonus_points("points")


@attrs.frozen
class BaseRate:
    """``points`` for every ``per`` spent in ``currency``: ``BaseRate(1, 100)`` is 1 point
    per 100 JPY. Orders in other currencies earn no base points from this rate."""

    points: int = attrs.field(default=1, converter=_bonus_points)
    per: Decimal = attrs.field(default=Decimal(100), converter=lambda v: to_decimal("per", v))
    currency: str = attrs.field(default="JPY", converter=lambda v: check_currency("currency",
                                                                                  v))

    def __attrs_post_init__(self) -> None:
        if self.per <= 0:
            raise ValidationError("per", f"must be greater than zero, got {self.per}")

    def base_points(self, order: Order) -> Decimal:
        """Unrounded points for the order's amount (0 in another currency)."""
        if order.currency != self.currency:
            return Decimal(0)
        return order.total * self.points / self.per


@attrs.frozen
class TierMultiplier:
    """Multiply by ``factors[tier]`` for customers in that tier."""

    factors: dict[str, Decimal] = attrs.field(
        converter=lambda m: {str(k): _factor(v) for k, v in dict(m).items()})

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The tier's factor, if the customer's tier has one."""
        if context.tier in self.factors:
            return [Multiplier(f"tier:{context.tier}", self.factors[context.tier])]
        return []


@attrs.frozen
class CampaignMultiplier:
    """Multiply by ``factor`` for orders placed in ``[starts_at, ends_at)``, optionally only
    on some ``channels``."""

    factor: Decimal = attrs.field(converter=_factor)
    starts_at: datetime
    ends_at: datetime
    label: str = "campaign"
    channels: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)

    def __attrs_post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValidationError("starts_at", "campaign times must be timezone-aware")
        if self.ends_at <= self.starts_at:
            raise ValidationError("ends_at", "must be after starts_at")

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The factor when the order falls in the campaign."""
        order = context.order
        in_window = self.starts_at <= order.placed_at < self.ends_at
        on_channel = not self.channels or order.channel in self.channels
        return [Multiplier(self.label, self.factor)] if in_window and on_channel else []


@attrs.frozen
class ProductBonus:
    """``points_per_unit`` for every unit bought of the ``skus`` or of the ``categories``."""

    points_per_unit: int = attrs.field(converter=_bonus_points)
    skus: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    categories: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    label: str = "product"

    def __attrs_post_init__(self) -> None:
        if not self.skus and not self.categories:
            raise ValidationError("skus", "name at least one SKU or category")

    def matches(self, line: OrderLine) -> bool:
        """True when ``line`` is one of the bonus products."""
        return line.sku in self.skus or (line.category is not None
                                         and line.category in self.categories)

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The bonus for the matching units, if any."""
        units = sum(line.quantity for line in context.order.lines if self.matches(line))
        return [Bonus(self.label, units * self.points_per_unit)] if units else []


@attrs.frozen
class FirstPurchaseBonus:
    """``points`` on the customer's first order."""

    points: int = attrs.field(converter=_bonus_points)

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The bonus when this is the first order."""
        return [Bonus("first_purchase", self.points)] if context.order_number == 1 else []


@attrs.frozen
class NthPurchaseBonus:
    """``points`` on the customer's ``n``-th order (``every=True``: every ``n``-th)."""

    n: int
    points: int = attrs.field(converter=_bonus_points)
    every: bool = False

    def __attrs_post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise ValidationError("n", f"must be a positive whole number, got {self.n!r}")

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The bonus on the matching order number."""
        number = context.order_number
        hit = number % self.n == 0 if self.every else number == self.n
        return [Bonus(f"purchase:{number}", self.points)] if hit else []


@attrs.frozen
class BirthdayMonthBonus:
    """For orders placed in the customer's birthday month (shop's calendar): multiply by
    ``factor`` and/or add ``points``."""

    factor: Decimal | None = attrs.field(default=None,
                                         converter=lambda v: None if v is None else _factor(v))
    points: int = attrs.field(default=0, converter=_bonus_points)

    def evaluate(self, context: EarnContext) -> Iterable[Effect]:
        """The birthday effects, when the month matches."""
        born = context.customer.birth_date
        if born is None or born.month != context.local_placed_at.month:
            return []
        effects: list[Effect] = []
        if self.factor is not None:
            effects.append(Multiplier("birthday_month", self.factor))
        if self.points:
            effects.append(Bonus("birthday_month", self.points))
        return effects


def quote(context: EarnContext, rates: Sequence[BaseRate], rules: Iterable[EarnRule],
          rounding: Rounding) -> EarnQuote:
    """The points ``context.order`` earns under ``rates`` and ``rules``."""
    base = sum((rate.base_points(context.order) for rate in rates), Decimal(0))
    multipliers: list[Multiplier] = []
    bonuses: list[Bonus] = []
    for rule in rules:
        for effect in rule.evaluate(context):
            (multipliers if isinstance(effect, Multiplier) else bonuses).append(
                _checked(effect, rule))
    scaled = base
    for multiplier in multipliers:
        scaled *= multiplier.factor
    points = rounding.apply(scaled) + sum(bonus.points for bonus in bonuses)
    return EarnQuote(base, tuple(multipliers), tuple(bonuses), points)


def _checked(effect: object, rule: object) -> Effect:
    """An effect a rule returned, refusing anything that would corrupt the sum."""
    if isinstance(effect, Multiplier) and effect.factor >= 0:
        return effect
    if isinstance(effect, Bonus) and _is_count(effect.points):
        return effect
    raise ValidationError("earn_rules", f"{type(rule).__name__} returned {effect!r}; rules "
                                        "return Bonus(points >= 0) or Multiplier(factor >= 0)")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def clawback_target(order_points: int, order: Order) -> int:
    """How many of an order's points should have been taken back in all, given what was
    refunded or cancelled: in proportion to the refunded amount, rounded down, so a
    full refund or a cancellation takes back every point."""
    if order.status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        return order_points
    if order.total <= 0:
        return 0
    refunded, total = order.refunded.as_integer_ratio(), order.total.as_integer_ratio()
    return order_points * refunded[0] * total[1] // (refunded[1] * total[0])
