"""A shop's points programme: the configuration the automatic earnings follow."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ecrm.domain import validation as check
from ecrm.domain.earning import BaseRate, EarnRule, Rounding
from ecrm.domain.loyalty import ClawbackPolicy, bonus_points
from ecrm.domain.referrals import ReferralReward
from ecrm.domain.tiers import TierPolicy
from ecrm.errors import ValidationError


def _rates(value: Iterable[BaseRate]) -> tuple[BaseRate, ...]:
    rates = tuple(value)
    if not all(isinstance(rate, BaseRate) for rate in rates):
        raise ValidationError("rates", "pass BaseRate objects")
    if len({rate.currency for rate in rates}) != len(rates):
        raise ValidationError("rates", "one base rate per currency")
    return rates


def _rules(value: Iterable[EarnRule]) -> tuple[EarnRule, ...]:
    rules = tuple(value)
    for rule in rules:
        if not isinstance(rule, EarnRule):
            raise ValidationError("rules", f"{rule!r} has no evaluate(context) method")
    return rules


def _duration(field: str) -> object:
    def convert(value: object) -> timedelta | None:
        if value is None and field == "points_valid_for":
            return None
        if not isinstance(value, timedelta) or value < timedelta(0):
            raise ValidationError(field, f"must be a timedelta >= 0, got {value!r}")
        if field == "points_valid_for" and not value:
            raise ValidationError(field, "must be longer than zero (None: never expire)")
        return value

    return convert


def _zone(value: object) -> tzinfo:
    if isinstance(value, tzinfo):
        return value
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("timezone", f"unknown time zone {value!r}") from None


@attrs.frozen
class LoyaltyProgram:
    """How orders and other events earn points. Pass it as ``CRM(..., loyalty=...)``.

    :param rates: base rates, one per currency (default: 1 point per 100 JPY).
    :param rules: multipliers and bonuses (see :mod:`ecrm.domain.earning`); plugins add
        more through the ``ecrm_earn_rules`` hook.
    :param rounding: how base points times multipliers become whole.
    :param return_window: an order's points stay pending this long after it was placed.
    :param points_valid_for: earned points expire this long after they become spendable
        (None: never).
    :param clawback: what a refund does when the order's points were already spent.
    :param signup_bonus: points for a new customer (``crm.customers.create``).
    :param review_bonus: points for a review (``crm.loyalty.award_review``).
    :param timezone: the shop's time zone, for birthday months and calendar periods.
    :param tiers: member tiers and how customers qualify (None: no tiers).
    :param referral: points for referrer and referee on the referee's first order (None:
        referrals are recorded but earn nothing).
    """

    rates: tuple[BaseRate, ...] = attrs.field(default=(BaseRate(),), converter=_rates)
    rules: tuple[EarnRule, ...] = attrs.field(default=(), converter=_rules)
    rounding: Rounding = attrs.field(default=Rounding.DOWN,
                                     converter=check.choice(Rounding, "rounding"))
    return_window: timedelta = attrs.field(default=timedelta(0),
                                           converter=_duration("return_window"))
    points_valid_for: timedelta | None = attrs.field(default=None,
                                                     converter=_duration("points_valid_for"))
    clawback: ClawbackPolicy = attrs.field(default=ClawbackPolicy.CAP_AT_ZERO,
                                           converter=check.choice(ClawbackPolicy, "clawback"))
    signup_bonus: int = attrs.field(default=0, converter=bonus_points("signup_bonus"))
    review_bonus: int = attrs.field(default=0, converter=bonus_points("review_bonus"))
    timezone: tzinfo = attrs.field(default=timezone.utc, converter=_zone)
    tiers: TierPolicy | None = attrs.field(default=None)
    referral: ReferralReward | None = attrs.field(default=None)

    @referral.validator
    def _check_referral(self, attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, ReferralReward):
            raise ValidationError("referral", f"expected a ReferralReward, got {value!r}")

    @tiers.validator
    def _check_tiers(self, attribute: object, value: object) -> None:
        if value is not None and not isinstance(value, TierPolicy):
            raise ValidationError("tiers", f"expected a TierPolicy, got {value!r}")
