"""Referrals: a code per customer, one referrer per new customer, a reward on the new
customer's first order, once."""

from __future__ import annotations

from datetime import datetime

import attrs

from ecrm.domain.coupons import random_code
from ecrm.domain.loyalty import bonus_points
from ecrm.errors import ValidationError

CODE_PREFIX = "R-"
CODE_LENGTH = 8


def new_code() -> str:
    """A random referral code, e.g. ``R-7KQ2M9XA``."""
    return random_code(CODE_PREFIX, CODE_LENGTH)


def normalise_code(value: object) -> str:
    """The code as stored (stripped, upper-cased); ValidationError when it is no code."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("code", "give the referral code as a non-empty string")
    code = value.strip().upper()
    if len(code) > 64:
        raise ValidationError("code", "is longer than 64 characters")
    return code


@attrs.frozen
class ReferralReward:
    """Points for the referrer, the new customer (referee), or both, on the referee's
    first order."""

    referrer_points: int = attrs.field(default=0, converter=bonus_points("referrer_points"))
    referee_points: int = attrs.field(default=0, converter=bonus_points("referee_points"))

    def __attrs_post_init__(self) -> None:
        if not self.referrer_points and not self.referee_points:
            raise ValidationError("referrer_points", "reward the referrer, the referee or both")


@attrs.frozen
class Referral:
    """``referee_id`` was referred by ``referrer_id`` with ``code``; ``rewarded_at`` and
    ``order_id`` tell when and for which first order the reward was given."""

    id: str
    referee_id: str
    referrer_id: str
    code: str
    referred_at: datetime
    rewarded_at: datetime | None = None
    order_id: str | None = None
