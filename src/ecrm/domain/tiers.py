"""Member tiers (ranks): the rules of qualifying, upgrading at once and downgrading at the
end of a period.

A customer qualifies for the highest tier whose threshold their measure reaches: points
earned (less points refunds took back) or net spend, over a calendar year or a rolling
window. Qualifying upgrades at once; the tier then holds until its period ends
(``valid_until``), when the period just ended decides the next one, after an optional grace
period. A manual floor keeps a customer from dropping below a tier.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

import attrs

from ecrm.domain import validation as check
from ecrm.domain.loyalty import PointsTransaction, TransactionKind
from ecrm.domain.money import check_currency, to_decimal
from ecrm.domain.orders import Order, OrderStatus
from ecrm.errors import ValidationError


class Measure(str, enum.Enum):
    """What qualifies a customer for a tier."""

    POINTS = "points"  # points earned, less points taken back by refunds
    SPEND = "spend"  # net spend (after refunds, cancelled orders left out)


class Period(str, enum.Enum):
    """The window a tier's measure is summed over."""

    CALENDAR_YEAR = "calendar_year"
    ROLLING = "rolling"


class ChangeReason(str, enum.Enum):
    """Why a customer's tier changed."""

    QUALIFIED = "qualified"
    PERIOD_END = "period_end"
    FLOOR = "floor"
    MERGE = "merge"


@attrs.frozen
class Tier:
    """A rank reached at ``threshold`` (points, or an amount in the policy's currency)."""

    name: str
    threshold: Decimal = attrs.field(converter=lambda v: to_decimal("threshold", v))

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValidationError("tiers", "a tier needs a name")
        if self.threshold < 0:
            raise ValidationError("threshold", f"must not be negative, got {self.threshold}")


def _tiers(value: Iterable[Tier]) -> tuple[Tier, ...]:
    tiers = tuple(value)
    if not tiers or not all(isinstance(t, Tier) for t in tiers):
        raise ValidationError("tiers", "pass one or more Tier objects")
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise ValidationError("tiers", "tier names must be unique")
    thresholds = [t.threshold for t in tiers]
    if thresholds != sorted(set(thresholds)):
        raise ValidationError("tiers", "list tiers from lowest to highest threshold")
    return tiers


def _grace(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError("grace", f"must be a timedelta >= 0, got {value!r}")
    return value


@attrs.frozen
class TierPolicy:
    """The tiers, lowest first, and how customers qualify for them.

    :param measure: ``"points"`` or ``"spend"`` (net spend in ``currency``).
    :param period: ``"calendar_year"`` (the shop's calendar) or ``"rolling"`` (the last
        ``rolling_days`` days).
    :param grace: how long past the period's end a tier is kept before it drops.
    """

    tiers: tuple[Tier, ...] = attrs.field(converter=_tiers)
    measure: Measure = attrs.field(default=Measure.SPEND,
                                   converter=check.choice(Measure, "measure"))
    period: Period = attrs.field(default=Period.CALENDAR_YEAR,
                                 converter=check.choice(Period, "period"))
    rolling_days: int = 365
    grace: timedelta = attrs.field(default=timedelta(0), converter=_grace)
    currency: str = attrs.field(default="JPY", converter=lambda v: check_currency("currency",
                                                                                  v))

    def __attrs_post_init__(self) -> None:
        days = self.rolling_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ValidationError("rolling_days", f"must be a positive integer, got {days!r}")

    def rank(self, tier: str | None) -> int:
        """0 for no tier, 1 for the lowest tier, and so on."""
        if tier is None:
            return 0
        for position, candidate in enumerate(self.tiers, start=1):
            if candidate.name == tier:
                return position
        raise ValidationError("tier", f"unknown tier {tier!r}; tiers are "
                                      f"{[t.name for t in self.tiers]}")

    def higher(self, first: str | None, second: str | None) -> str | None:
        """The higher-ranked of two tiers."""
        return first if self.rank(first) >= self.rank(second) else second

    def qualified(self, value: Decimal) -> str | None:
        """The highest tier whose threshold ``value`` reaches."""
        reached = [t.name for t in self.tiers if value >= t.threshold]
        return reached[-1] if reached else None

    def period_start(self, end: datetime, zone: tzinfo) -> datetime:
        """The start of the period that ends at ``end``."""
        if self.period is Period.ROLLING:
            return end - timedelta(days=self.rolling_days)
        local = end.astimezone(zone)
        return local.replace(year=local.year - 1)

    def current_period(self, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
        """``(start, end)`` of the period ``now`` is in, for upgrades: the calendar year, or
        the rolling window ending now (whose tier then holds for one window)."""
        if self.period is Period.ROLLING:
            window = timedelta(days=self.rolling_days)
            return now - window, now + window
        local = now.astimezone(zone)
        start = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return start, start.replace(year=start.year + 1)

    def next_end(self, end: datetime, zone: tzinfo) -> datetime:
        """The end of the period after the one ending at ``end``."""
        if self.period is Period.ROLLING:
            return end + timedelta(days=self.rolling_days)
        local = end.astimezone(zone)
        return local.replace(year=local.year + 1)


@attrs.frozen
class TierStatus:
    """A customer's tier: held ``since``, until the period ending ``valid_until`` is
    reviewed; ``floor`` is a tier they cannot drop below (set by hand)."""

    customer_id: str
    tier: str | None = None
    since: datetime | None = None
    valid_until: datetime | None = None
    floor: str | None = None


@attrs.frozen
class TierChange:
    """A recorded change of tier, with the measured value that caused it (None for
    floors and merges)."""

    id: str
    customer_id: str
    from_tier: str | None
    to_tier: str | None
    reason: ChangeReason
    changed_at: datetime
    qualifying: Decimal | None = None


def measure(policy: TierPolicy, start: datetime, end: datetime,
            transactions: Sequence[PointsTransaction], orders: Sequence[Order]) -> Decimal:
    """The customer's measure over ``[start, end)``."""
    if policy.measure is Measure.POINTS:
        kinds = (TransactionKind.EARN, TransactionKind.CLAWBACK)
        return Decimal(sum(t.points for t in transactions
                           if t.kind in kinds and start <= t.occurred_at < end))
    return sum((o.net_amount for o in orders if o.currency == policy.currency
                and o.status is not OrderStatus.CANCELLED and start <= o.placed_at < end),
               Decimal(0))
