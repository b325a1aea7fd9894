"""The memory backend's cart, journey and funnel reads: plain loops over the tenant's
orders and interactions, the reference the SQL queries are tested against."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ecrm.domain.journeys import (
    CART_ADD,
    ORDER_STEP,
    BuyerJourney,
    CartCounts,
    CartEvent,
    FunnelEvent,
    FunnelStep,
    Touch,
    cart_sessions,
    collapsed,
    count_carts,
    funnel_reach,
)
from ecrm.domain.orders import Order, OrderStatus

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


def _counted(data: _TenantData) -> list[Order]:
    return [o for o in data.orders.rows.values() if o.status is not OrderStatus.CANCELLED]


def cart_events(data: _TenantData, start: datetime, end: datetime, as_of: datetime
                ) -> list[CartEvent]:
    adds = [i for i in data.interactions.rows.values()
            if i.kind == CART_ADD and i.occurred_at <= as_of]
    carting = {i.customer_id for i in adds if start <= i.occurred_at < end}
    events = [CartEvent(i.customer_id, i.occurred_at, False, i.channel, i.sku)
              for i in adds if i.customer_id in carting]
    events += [CartEvent(o.customer_id, o.placed_at, True) for o in _counted(data)
               if o.customer_id in carting and o.placed_at <= as_of]
    return events


def cart_counts(data: _TenantData, start: datetime, end: datetime, as_of: datetime,
                window: timedelta, starts: Sequence[datetime]) -> CartCounts:
    sessions = cart_sessions(cart_events(data, start, end, as_of), window, as_of)
    return count_carts([s for s in sessions if start <= s.started_at < end], starts)


def journey_touches(data: _TenantData, start: datetime | None, end: datetime | None,
                    kinds: Collection[str] | None, max_length: int) -> list[BuyerJourney]:
    first: dict[str, datetime] = {}
    for order in _counted(data):
        known = first.get(order.customer_id)
        if known is None or order.placed_at < known:
            first[order.customer_id] = order.placed_at
    buyers = {cid: at for cid, at in first.items()
              if (start is None or at >= start) and (end is None or at < end)}
    touches: dict[str, list[tuple[datetime, str, Touch]]] = {cid: [] for cid in buyers}
    for i in data.interactions.rows.values():
        bought = buyers.get(i.customer_id)
        if bought is not None and i.occurred_at < bought \
                and (kinds is None or i.kind in kinds):
            touches[i.customer_id].append((i.occurred_at, i.id, Touch(i.channel, i.kind)))
    journeys = []
    for cid, bought in buyers.items():
        ordered = sorted(touches[cid], key=lambda t: (t[0], t[1]))
        path = collapsed(t[2] for t in ordered)[-max_length:]
        journeys.append(BuyerJourney(cid, bought, ordered[0][0] if ordered else None,
                                     tuple(path)))
    return journeys


def funnel(data: _TenantData, steps: Sequence[FunnelStep], start: datetime,
           end: datetime, within: timedelta | None) -> list[int]:
    kinds = {s.kind for s in steps}
    events = [FunnelEvent(i.customer_id, i.occurred_at, i.kind, i.channel, sku=i.sku)
              for i in data.interactions.rows.values()
              if i.kind in kinds and i.kind != ORDER_STEP and start <= i.occurred_at < end]
    if ORDER_STEP in kinds:
        events += [FunnelEvent(o.customer_id, o.placed_at, ORDER_STEP, o.channel,
                               frozenset(line.sku for line in o.lines))
                   for o in _counted(data) if start <= o.placed_at < end]
    return funnel_reach(events, steps, within)
