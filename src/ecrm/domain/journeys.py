"""Cart sessions, customer journeys and funnels: the pure rules behind
``crm.analytics.cart_abandonment``, ``journeys`` and ``funnel``.

Backends select the events (the SQL ones push the filtering, ordering and windowing
down); what a cart session, a path or a funnel step *is* lives here, once.

A **counted order** here is an order that is not cancelled, in any currency, as the
segment fields ``orders.count`` and ``cart.abandoned`` count them.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
from ecrm.domain.interactions import InteractionKind
from ecrm.errors import ValidationError

#: The special funnel step that a counted order reaches.
ORDER_STEP = "order"


class CartStatus(enum.StrEnum):
    """Where a cart session stands at the report's as-of time."""

    CONVERTED = "converted"
    ABANDONED = "abandoned"
    OPEN = "open"


@attrs.frozen
class CartEvent:
    """A cart add (``sku``, ``channel`` set) or a counted order (``is_order``) of one
    customer, as the cart analysis reads them."""

    customer_id: str
    at: datetime
    is_order: bool
    channel: str | None = None
    sku: str | None = None


@attrs.frozen
class CartSession:
    """One cart: from its first ``cart_add`` (``started_at``, on ``channel``) to its last
    (``last_add_at``), with the SKUs added, and its status at the as-of time."""

    customer_id: str
    started_at: datetime
    last_add_at: datetime
    channel: str
    skus: frozenset[str | None]
    status: CartStatus


def cart_sessions(events: Iterable[CartEvent], window: timedelta, as_of: datetime
                  ) -> list[CartSession]:
    """Every cart session of the customers of ``events`` (their cart adds and counted
    orders, all at or before ``as_of``), in the order of the events.

    A customer's ``cart_add`` joins the open session when it comes at most ``window``
    after that session's last add with no counted order in between; otherwise it starts a
    new session. A session is *converted* by the first counted order placed at or after
    its last add and at most ``window`` after it; *abandoned* when no such order came and
    ``last add + window <= as_of``; *open* otherwise. An order at the same instant as a
    cart add comes after it ("placed no order since", as ``cart.abandoned`` reads it).
    """
    by_customer: dict[str, list[CartEvent]] = {}
    for event in events:
        by_customer.setdefault(event.customer_id, []).append(event)
    found: list[CartSession] = []
    for customer_events in by_customer.values():
        found.extend(_sessions_of(sorted(customer_events,
                                         key=lambda e: (e.at, e.is_order)), window, as_of))
    return found


def _sessions_of(events: list[CartEvent], window: timedelta, as_of: datetime
                 ) -> list[CartSession]:
    found: list[CartSession] = []
    current: CartSession | None = None
    for event in events:
        if event.is_order:
            if current is not None:
                converted = event.at <= current.last_add_at + window
                found.append(attrs.evolve(current, status=CartStatus.CONVERTED if converted
                                          else CartStatus.ABANDONED))
                current = None
            continue
        if current is not None and event.at <= current.last_add_at + window:
            current = attrs.evolve(current, last_add_at=event.at,
                                   skus=current.skus | {event.sku})
            continue
        if current is not None:
            found.append(attrs.evolve(current, status=CartStatus.ABANDONED))
        current = CartSession(event.customer_id, event.at, event.at, event.channel or "",
                              frozenset({event.sku}), CartStatus.OPEN)
    if current is not None:
        closed = current.last_add_at + window <= as_of
        found.append(attrs.evolve(current, status=CartStatus.ABANDONED if closed
                                  else CartStatus.OPEN))
    return found


@attrs.frozen
class CartCounts:
    """How many carts, by (period index, channel of the first add, status) and by (SKU
    added, status): what a cart report is made of."""

    by_period_channel: Mapping[tuple[int, str, CartStatus], int]
    by_sku: Mapping[tuple[str | None, CartStatus], int]


def count_carts(sessions: Iterable[CartSession], starts: Sequence[datetime]
                ) -> CartCounts:
    """``sessions`` counted as :class:`CartCounts`; the period index is that of
    :func:`bucket` in ``starts`` (0 for every cart without periods)."""
    by_period: dict[tuple[int, str, CartStatus], int] = {}
    by_sku: dict[tuple[str | None, CartStatus], int] = {}
    for session in sessions:
        index = bucket(session.started_at, starts) if starts else 0
        key = (index, session.channel, session.status)
        by_period[key] = by_period.get(key, 0) + 1
        for sku in session.skus:
            by_sku[(sku, session.status)] = by_sku.get((sku, session.status), 0) + 1
    return CartCounts(by_period, by_sku)


# -- periods ------------------------------------------------------------------------------

def bucket(moment: datetime, starts: Sequence[datetime]) -> int:
    """The index of the period (of ``starts``, ascending) that ``moment`` falls in."""
    return bisect_right(starts, moment) - 1


# -- journeys ------------------------------------------------------------------------------

@attrs.frozen
class Touch:
    """One touchpoint of a journey."""

    channel: str
    kind: str

    @property
    def step(self) -> str:
        """How paths name it: ``"channel:kind"``, e.g. ``"email:email_clicked"``."""
        return f"{self.channel}:{self.kind}"


@attrs.frozen
class BuyerJourney:
    """A first-time buyer: when they first ordered, their first touch before that (None
    without one) and their last touches, consecutive repeats collapsed, oldest first."""

    customer_id: str
    first_order_at: datetime
    first_touch_at: datetime | None
    touches: tuple[Touch, ...]


def collapsed(touches: Iterable[Touch]) -> list[Touch]:
    """``touches`` with each run of equal consecutive touches kept once."""
    kept: list[Touch] = []
    for touch in touches:
        if not kept or kept[-1] != touch:
            kept.append(touch)
    return kept


def kinds_of(value: object) -> frozenset[str] | None:
    """The touchpoint kinds a journey includes (None: all)."""
    if value is None:
        return None
    found = frozenset(check.identifier("kinds", k) for k in check.names("kinds", value))
    if not found:
        raise ValidationError("kinds", "must name at least one kind (or be None for all)")
    return found


# -- funnels ------------------------------------------------------------------------------

@attrs.frozen
class FunnelStep:
    """One step of a funnel: an interaction ``kind`` (optionally only on ``channel``,
    only about ``sku``), or ``"order"``: a counted order (optionally on ``channel``, with
    a line of ``sku``)."""

    kind: str
    channel: str | None = None
    sku: str | None = None

    @property
    def is_order(self) -> bool:
        return self.kind == ORDER_STEP

    @property
    def label(self) -> str:
        """The step as the funnel's rows name it, e.g. ``"cart_add[web]{TEA-01}"``."""
        return (self.kind + (f"[{self.channel}]" if self.channel else "")
                + (f"{{{self.sku}}}" if self.sku else ""))


_STEP_KEYS = frozenset({"kind", "channel", "sku"})


def funnel_steps(steps: object, channels: Iterable[str]) -> tuple[FunnelStep, ...]:
    """The steps of a funnel, checked: at least two, each a kind name, ``"order"``, a
    :class:`FunnelStep` or a mapping of ``kind`` (and ``channel``, ``sku``).

    :raises ValidationError: naming ``steps`` or the bad step (``steps[2]``).
    """
    if isinstance(steps, (str, bytes, Mapping)) or not isinstance(steps, Iterable):
        raise ValidationError("steps", "expected a list of steps")
    checked = tuple(_step(f"steps[{n}]", step, set(channels))
                    for n, step in enumerate(steps))
    if len(checked) < 2:
        raise ValidationError("steps", "a funnel needs at least two steps")
    return checked


def _step(field: str, step: object, channels: set[str]) -> FunnelStep:
    if isinstance(step, FunnelStep):
        step = {"kind": step.kind, "channel": step.channel, "sku": step.sku}
    elif isinstance(step, str):
        step = {"kind": step}
    if not isinstance(step, Mapping):
        raise ValidationError(field, f"expected a kind name, 'order', a FunnelStep or a "
                                     f"mapping, got {type(step).__name__}")
    unknown = set(step) - _STEP_KEYS
    if unknown:
        raise ValidationError(field, f"unknown key {sorted(map(str, unknown))[0]!r}; "
                                     "a step has kind, channel and sku")
    try:
        kind = check.identifier(field, step.get("kind"))
        channel = None if step.get("channel") is None else check.identifier(
            field, step.get("channel"))
        sku = check.text(field, step.get("sku"), 64)
    except ValidationError as error:
        raise ValidationError(field, f"{step!r}: {error.message}") from None
    if channel is not None and kind != ORDER_STEP and channel not in channels:
        raise ValidationError(field, f"unknown channel {channel!r}")
    return FunnelStep(kind, channel, sku)


@attrs.frozen
class FunnelEvent:
    """An interaction or a counted order (``kind`` ``"order"``; ``skus`` its lines'), as
    the memory funnel reads them."""

    customer_id: str
    at: datetime
    kind: str
    channel: str
    skus: frozenset[str] = frozenset()
    sku: str | None = None

    def matches(self, step: FunnelStep) -> bool:
        if self.kind != step.kind or (step.channel is not None
                                      and self.channel != step.channel):
            return False
        if step.sku is None:
            return True
        return step.sku in self.skus if step.is_order else self.sku == step.sku


def funnel_reach(events: Iterable[FunnelEvent], steps: Sequence[FunnelStep],
                 within: timedelta | None) -> list[int]:
    """How many customers reached each step: step 1 at their first matching event, step
    ``i`` at the first matching event strictly after the step before, and (with
    ``within``) at most ``within`` after step 1. ``events`` are those in the window."""
    by_customer: dict[str, list[FunnelEvent]] = {}
    for event in events:
        by_customer.setdefault(event.customer_id, []).append(event)
    reached = [0] * len(steps)
    for customer_events in by_customer.values():
        customer_events.sort(key=lambda e: e.at)
        for n in range(_steps_reached(customer_events, steps, within)):
            reached[n] += 1
    return reached


def _steps_reached(events: list[FunnelEvent], steps: Sequence[FunnelStep],
                   within: timedelta | None) -> int:
    first: datetime | None = None
    previous: datetime | None = None
    for n, step in enumerate(steps):
        at = next((e.at for e in events if (previous is None or e.at > previous)
                   and (first is None or within is None or e.at <= first + within)
                   and e.matches(step)), None)
        if at is None:
            return n
        first = at if first is None else first
        previous = at
    return len(steps)


CART_ADD = InteractionKind.CART_ADD.value
