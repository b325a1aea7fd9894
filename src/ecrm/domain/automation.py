"""Triggered journeys: a series of messages a trigger starts, per customer and occasion.

A :class:`Journey` names a :class:`JourneyTrigger` (what starts it, e.g. a sign-up or an order),
its :class:`Step` s (a wait, then a message) and its exit conditions. Each time the
trigger's rule holds for a customer, that is an *occasion* (the customer for a sign-up,
the order id for a post-purchase follow-up, ...), and the customer is enrolled once per
occasion: the occasion is the enrollment's key. Pure rules only; no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from ecrm.domain import campaigns as campaign_rules
from ecrm.domain import consent as consent_rules
from ecrm.domain import validation as check
from ecrm.domain.campaigns import CouponOffer
from ecrm.domain.contact_policy import ContactPolicy
from ecrm.errors import ValidationError

#: The longest journey name, in characters.
MAX_NAME = 100
#: The most steps a journey may have.
MAX_STEPS = 20
#: Exit conditions a journey may name.
EXIT_CONDITIONS = frozenset({"order_placed"})


class JourneyTriggerKind(enum.StrEnum):
    """What starts a journey."""

    SIGNUP = "signup"  #: occasion: the customer, once ever
    BIRTHDAY = "birthday"  #: occasion: the customer and the year
    CART_ABANDONED = "cart_abandoned"  #: occasion: the latest cart interaction
    ORDER_PLACED = "order_placed"  #: occasion: the order
    SECOND_PURCHASE = "second_purchase"  #: occasion: the customer, once ever
    WIN_BACK = "win_back"  #: occasion: the customer and their last order
    POINTS_EXPIRING = "points_expiring"  #: occasion: the points lot
    TIER_CHANGED = "tier_changed"  #: occasion: the tier change
    CASE_RESOLVED = "case_resolved"  #: occasion: the support case


#: Triggers whose occasion is the customer themselves (with the year, or their last
#: order): a merged customer keeps one series of each, the survivor's.
PER_CUSTOMER_TRIGGERS = frozenset({JourneyTriggerKind.SIGNUP, JourneyTriggerKind.BIRTHDAY,
                                   JourneyTriggerKind.SECOND_PURCHASE,
                                   JourneyTriggerKind.WIN_BACK})


class EnrollmentStatus(enum.StrEnum):
    """Where one customer is in a journey for one occasion."""

    ACTIVE = "active"  #: waiting for its next step
    COMPLETED = "completed"  #: every step done
    EXITED = "exited"  #: left early (an exit condition, or the customer is gone)


def _duration(field: str, value: object, *, positive: bool = False) -> timedelta:
    if not isinstance(value, timedelta):
        raise ValidationError(field, "expected a datetime.timedelta")
    if value < timedelta(0) or (positive and value == timedelta(0)):
        raise ValidationError(field, "must be positive" if positive else "must not be negative")
    return value


@attrs.frozen
class JourneyTrigger:
    """What starts a journey; build one with the class methods."""

    kind: JourneyTriggerKind
    after: timedelta = timedelta(0)
    days_before: int = 0
    within: timedelta = timedelta(0)
    to: str | None = None

    @classmethod
    def signup(cls) -> JourneyTrigger:
        """Customers who sign up after the journey was created; once per customer."""
        return cls(JourneyTriggerKind.SIGNUP)

    @classmethod
    def birthday(cls, days_before: int = 0) -> JourneyTrigger:
        """``days_before`` days before the birthday, in the customer's time zone; once
        a year. A 29 February birthday falls on 28 February in other years."""
        if isinstance(days_before, bool) or not isinstance(days_before, int) \
                or not 0 <= days_before <= 60:
            raise ValidationError("days_before", "expected a whole number of days, 0-60")
        return cls(JourneyTriggerKind.BIRTHDAY, days_before=days_before)

    @classmethod
    def cart_abandoned(cls, after: timedelta = timedelta(hours=4)) -> JourneyTrigger:
        """``after`` a customer's latest cart interaction (``cart_add``,
        ``checkout_started``) when no order followed it."""
        return cls(JourneyTriggerKind.CART_ABANDONED,
                   after=_duration("after", after, positive=True))

    @classmethod
    def order_placed(cls, after: timedelta = timedelta(days=3)) -> JourneyTrigger:
        """``after`` each order (not cancelled) placed since the journey was created:
        follow-ups and review requests."""
        return cls(JourneyTriggerKind.ORDER_PLACED, after=_duration("after", after))

    @classmethod
    def second_purchase(cls, after: timedelta = timedelta(days=30)) -> JourneyTrigger:
        """Customers with exactly one order (not cancelled), placed ``after`` ago or
        more; once per customer."""
        return cls(JourneyTriggerKind.SECOND_PURCHASE, after=_duration("after", after))

    @classmethod
    def win_back(cls, after: timedelta = timedelta(days=90)) -> JourneyTrigger:
        """Customers whose last order (not cancelled) is ``after`` old or more; once per
        last order."""
        return cls(JourneyTriggerKind.WIN_BACK, after=_duration("after", after, positive=True))

    @classmethod
    def points_expiring(cls, within: timedelta = timedelta(days=14)) -> JourneyTrigger:
        """When a spendable lot of the customer's points (some left) expires within
        ``within``; once per lot."""
        return cls(JourneyTriggerKind.POINTS_EXPIRING,
                   within=_duration("within", within, positive=True))

    @classmethod
    def tier_changed(cls, to: str | None = None) -> JourneyTrigger:
        """Each tier change (to the tier ``to`` only, when given) recorded since the
        journey was created; once per change."""
        tier = None if to is None else check.required_text("to", to, 64)
        return cls(JourneyTriggerKind.TIER_CHANGED, to=tier)

    @classmethod
    def case_resolved(cls, after: timedelta = timedelta(0)) -> JourneyTrigger:
        """``after`` a support case is resolved (since the journey was created), e.g.
        for a CSAT request; once per case."""
        return cls(JourneyTriggerKind.CASE_RESOLVED, after=_duration("after", after))

    def to_json(self) -> dict[str, Any]:
        """The trigger as JSON can hold it."""
        return {"kind": self.kind.value, "after_seconds": int(self.after.total_seconds()),
                "days_before": self.days_before,
                "within_seconds": int(self.within.total_seconds()), "to": self.to}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JourneyTrigger:
        """The trigger :meth:`to_json` wrote."""
        return cls(JourneyTriggerKind(data["kind"]), timedelta(seconds=data["after_seconds"]),
                   data["days_before"], timedelta(seconds=data.get("within_seconds", 0)),
                   data.get("to"))


@attrs.frozen
class Step:
    """One message of a journey, sent ``wait`` after the previous step (after the
    enrollment, for the first): templates like a campaign's, a channel and purpose,
    optionally a coupon per recipient, and optionally an unsubscribe link
    (``https://.../unsubscribe?t={token}``, signed per recipient; needs
    ``CRM(secret=...)``) that the templates use as ``unsubscribe_url``."""

    wait: timedelta
    body: str
    subject: str | None = None
    html: str | None = None
    channel: str = "email"
    purpose: str = consent_rules.MARKETING
    coupon: CouponOffer | None = None
    unsubscribe_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The step as JSON can hold it."""
        coupon = self.coupon
        return {"wait_seconds": int(self.wait.total_seconds()), "body": self.body,
                "subject": self.subject, "html": self.html, "channel": self.channel,
                "purpose": self.purpose,
                "coupon": None if coupon is None else {
                    "code": coupon.code, "terms": coupon.terms and dict(coupon.terms),
                    "prefix": coupon.prefix},
                "unsubscribe_url": self.unsubscribe_url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        """The step :meth:`to_json` wrote."""
        coupon = data["coupon"]
        return cls(timedelta(seconds=data["wait_seconds"]), data["body"], data["subject"],
                   data["html"], data["channel"], data["purpose"],
                   None if coupon is None else CouponOffer(**coupon),
                   data.get("unsubscribe_url"))  # absent in steps stored before it


@attrs.frozen
class Journey:
    """An automated series of messages: a trigger, steps and exit conditions."""

    id: str
    name: str
    trigger: JourneyTrigger
    steps: tuple[Step, ...]
    exit_on: frozenset[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@attrs.frozen
class Occasion:
    """One time a trigger's rule holds: the enrollment key, the customer, and when
    the occasion happened."""

    key: str
    customer_id: str
    at: datetime


@attrs.frozen
class Enrollment:
    """One customer in a journey for one occasion: the next step's index, when it is
    due, and how it ended (``reason``: why it exited, or why the last step sent
    nothing)."""

    journey_id: str
    occasion: str
    customer_id: str
    step: int
    due_at: datetime | None
    status: EnrollmentStatus
    enrolled_at: datetime
    updated_at: datetime
    reason: str | None = None


def name(value: object) -> str:
    """A journey's name, trimmed. :raises ValidationError: on ``name``."""
    return check.required_text("name", value, MAX_NAME)


def trigger(value: object) -> JourneyTrigger:
    """The journey's trigger. :raises ValidationError: on ``trigger``."""
    if not isinstance(value, JourneyTrigger):
        raise ValidationError("trigger", "expected an ecrm.JourneyTrigger, e.g. "
                                         "JourneyTrigger.signup()")
    return value


def steps(values: object) -> tuple[Step, ...]:
    """The journey's steps, their waits, channels and purposes checked (templates are
    the service's to compile). :raises ValidationError: on ``steps`` or ``steps[i]``."""
    if isinstance(values, Step) or not isinstance(values, Sequence) or not values:
        raise ValidationError("steps", "expected a non-empty list of ecrm.Step")
    if len(values) > MAX_STEPS:
        raise ValidationError("steps", f"at most {MAX_STEPS} steps")
    checked = []
    for index, step in enumerate(values):
        field = f"steps[{index}]"
        if not isinstance(step, Step):
            raise ValidationError(field, "expected an ecrm.Step")
        _duration(f"{field}.wait", step.wait)
        url = None if step.unsubscribe_url is None else _in(
            field, campaign_rules.unsubscribe_url, step.unsubscribe_url)
        checked.append(attrs.evolve(step, channel=_in(field, consent_rules.channel,
                                                       step.channel),
                                    purpose=_in(field, consent_rules.purpose, step.purpose),
                                    unsubscribe_url=url))
    return tuple(checked)


def exit_on(values: object) -> frozenset[str]:
    """The exit conditions. :raises ValidationError: on ``exit_on``."""
    if isinstance(values, str) or not isinstance(values, Sequence | frozenset | set):
        raise ValidationError("exit_on", "expected a list such as ('order_placed',)")
    unknown = sorted(str(v) for v in values if v not in EXIT_CONDITIONS)
    if unknown:
        raise ValidationError("exit_on", f"unknown exit condition(s) {', '.join(unknown)}; "
                                         f"known: {', '.join(sorted(EXIT_CONDITIONS))}")
    return frozenset(values)


def _in(field: str, rule: Any, value: object) -> str:
    try:
        return str(rule(value))
    except ValidationError as error:
        raise ValidationError(field, f"{error.field}: {error.message}") from None


def birthday_in(birth: date, year: int) -> date:
    """The day a birthday falls on in ``year`` (28 February for 29 February in a
    common year)."""
    try:
        return birth.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def birthday_occasion(customer_id: str, birth: date, local_today: date, days_before: int
                      ) -> str | None:
    """The occasion key when ``local_today`` is ``days_before`` days before the
    customer's birthday, else None."""
    target = local_today + timedelta(days=days_before)
    if birthday_in(birth, target.year) == target:
        return f"{customer_id}:{target.year}"
    return None


def next_due(journey: Journey, step: int, now: datetime) -> datetime | None:
    """When step ``step`` of the journey is due, counted from ``now``; None past the
    last step."""
    return now + journey.steps[step].wait if step < len(journey.steps) else None


def local_today(attributes: Mapping[str, object], now: datetime, default_zone: str) -> date:
    """Today's date where the customer lives: their ``timezone`` attribute when it
    names a known zone, else ``default_zone`` (as :meth:`ecrm.ContactPolicy.zone_of`)."""
    return now.astimezone(ContactPolicy(timezone=default_zone).zone_of(attributes)).date()
