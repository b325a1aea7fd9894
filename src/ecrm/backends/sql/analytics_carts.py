"""Cart, journey and funnel reads in SQL.

- Carts: all in SQL. ``LAG`` gives each cart add the add before it; an add starts a cart
  when there is none, when it comes more than the conversion window later, or when a
  counted order came in between (``EXISTS``); a running ``SUM`` of those starts numbers
  the carts; window functions over each cart give every add its cart's first and last
  add and first channel, and an ``EXISTS`` on the orders the cart's status; one
  ``GROUP BY`` counts the carts started in the window by period (a ``CASE`` over the
  periods' bound start times, split in halves), channel, SKU and status (each cart once,
  and each of its SKUs once). ``cart_events`` (the plain events) serves tests and tools.
- Journeys: one ordered SELECT keeps, per first-time buyer, the touches before the first
  order with consecutive repeats dropped (``LAG``) and only the last ``max_length`` of
  them (``ROW_NUMBER``); the service counts the paths.
- Funnels: all in SQL: per customer, ``MIN(time)`` of step 1 in the window, then for each
  later step a correlated ``MIN(time)`` strictly after the step before, one derived table
  per step, and ``COUNT`` of each column.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Interval,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.periods import period_index
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.backends.sql.types import UTCDateTime
from ecrm.domain.journeys import (
    CART_ADD,
    BuyerJourney,
    CartCounts,
    CartEvent,
    CartStatus,
    FunnelStep,
    Touch,
)
from ecrm.domain.orders import OrderStatus

i, o, line = tables.interactions, tables.orders, tables.order_lines


def not_after(dialect: str, moment: Any, base: Any, delta: timedelta
              ) -> ColumnElement[bool]:
    """``moment <= base + delta``, exact to the microsecond on every dialect."""
    if dialect == "postgresql":
        return moment <= base + bindparam(None, delta, type_=Interval())  # type: ignore[no-any-return]
    if dialect in ("mysql", "mariadb"):
        micros = delta // timedelta(microseconds=1)
        return moment <= func.timestampadd(  # type: ignore[no-any-return]
            literal_column("MICROSECOND"), micros, base)
    micros = delta // timedelta(microseconds=1)
    return _sqlite_micros(moment) <= _sqlite_micros(base) + micros  # type: ignore[no-any-return]


def _sqlite_micros(stored: Any) -> Any:
    """Microseconds since the epoch of a time SQLite holds as 'YYYY-MM-DD HH:MM:SS.ffffff'."""
    seconds = cast(func.strftime("%s", func.substr(stored, 1, 19)), Integer)
    return seconds * 1_000_000 + cast(func.substr(stored, 21, 6), Integer)


class SQLCartQueries(_TenantScoped):
    """The reads behind cart abandonment, journeys and funnels."""

    def _counted(self) -> list[ColumnElement[bool]]:
        return [self._mine(o), o.c.status != OrderStatus.CANCELLED.value]

    def cart_events(self, start: datetime, end: datetime, as_of: datetime
                    ) -> list[CartEvent]:
        carting = select(i.c.customer_id).where(
            self._mine(i), i.c.kind == CART_ADD, i.c.occurred_at >= start,
            i.c.occurred_at < end, i.c.occurred_at <= as_of).distinct()
        adds = select(i.c.customer_id, i.c.occurred_at, i.c.channel, i.c.sku).where(
            self._mine(i), i.c.kind == CART_ADD, i.c.occurred_at <= as_of,
            i.c.customer_id.in_(carting)).order_by(i.c.customer_id, i.c.occurred_at)
        orders = select(o.c.customer_id, o.c.placed_at).where(
            *self._counted(), o.c.placed_at <= as_of,
            o.c.customer_id.in_(carting)).order_by(o.c.customer_id, o.c.placed_at)
        events = [CartEvent(cid, at, False, channel, sku)
                  for cid, at, channel, sku in self._conn.execute(adds)]
        events += [CartEvent(cid, at, True) for cid, at in self._conn.execute(orders)]
        return events

    def cart_counts(self, start: datetime, end: datetime, as_of: datetime,
                    window: timedelta, starts: Sequence[datetime]) -> CartCounts:
        dialect = self._conn.dialect.name
        n = self._numbered_adds(start, end, as_of, window).c
        cart = (n.customer_id, n.cart)
        spans = select(
            n.customer_id, n.sku, n.first,
            func.min(n.at).over(partition_by=cart).label("started_at"),
            func.max(n.at).over(partition_by=cart).label("last_at"),
            func.max(case((n.first == 1, n.channel))).over(partition_by=cart)
            .label("channel"),
            func.row_number().over(partition_by=(*cart, n.sku), order_by=(n.at, n.id))
            .label("sku_first"),
        ).subquery()
        c = spans.c
        converted = exists().where(*self._counted(), o.c.customer_id == c.customer_id,
                                   o.c.placed_at >= c.last_at, o.c.placed_at <= as_of,
                                   not_after(dialect, o.c.placed_at, c.last_at, window))
        status = case((converted, CartStatus.CONVERTED.value),
                      (c.last_at <= bindparam(None, as_of - window, type_=UTCDateTime()),
                       CartStatus.ABANDONED.value), else_=CartStatus.OPEN.value)
        period = period_index(c.started_at, starts)
        counted = select(
            period.label("period"), c.channel, c.sku, status.label("status"), c.first,
            case((c.sku_first == 1, 1), else_=0).label("sku_first"),
        ).where(c.started_at >= start, c.started_at < end,
                or_(c.first == 1, c.sku_first == 1)).subquery()
        k = counted.c
        grouped = select(k.period, k.channel, k.sku, k.status, func.sum(k.first),
                         func.sum(k.sku_first)).group_by(k.period, k.channel, k.sku,
                                                         k.status)
        by_period: dict[tuple[int, str, CartStatus], int] = {}
        by_sku: dict[tuple[str | None, CartStatus], int] = {}
        for index, channel, sku, status, carts, with_sku in self._conn.execute(grouped):
            state = CartStatus(status)
            if carts:
                key = (int(index), channel, state)
                by_period[key] = by_period.get(key, 0) + int(carts)
            if with_sku:
                by_sku[(sku, state)] = by_sku.get((sku, state), 0) + int(with_sku)
        return CartCounts(by_period, by_sku)

    def _numbered_adds(self, start: datetime, end: datetime, as_of: datetime,
                       window: timedelta) -> Any:
        """The cart adds up to ``as_of`` of the customers with one in the window, each
        with the number of its cart (``cart``) and whether it started it (``first``)."""
        dialect = self._conn.dialect.name
        carting = select(i.c.customer_id).where(
            self._mine(i), i.c.kind == CART_ADD, i.c.occurred_at >= start,
            i.c.occurred_at < end, i.c.occurred_at <= as_of).distinct()
        order = (i.c.occurred_at, i.c.id)
        adds = select(i.c.customer_id, i.c.occurred_at.label("at"), i.c.id, i.c.channel,
                      i.c.sku, func.lag(i.c.occurred_at).over(
                          partition_by=i.c.customer_id, order_by=order).label("prev")
                      ).where(self._mine(i), i.c.kind == CART_ADD, i.c.occurred_at <= as_of,
                              i.c.customer_id.in_(carting)).subquery()
        a = adds.c
        between = exists().where(*self._counted(), o.c.customer_id == a.customer_id,
                                 o.c.placed_at >= a.prev, o.c.placed_at < a.at)
        first = case((or_(a.prev.is_(None), not_(not_after(dialect, a.at, a.prev, window)),
                          between), 1), else_=0)
        flagged = select(*a, first.label("first")).subquery()
        f = flagged.c
        return select(*f, func.sum(f.first).over(
            partition_by=f.customer_id, order_by=(f.at, f.id),
            rows=(None, 0)).label("cart")).subquery()

    def journey_touches(self, start: datetime | None, end: datetime | None,
                        kinds: Collection[str] | None, max_length: int
                        ) -> list[BuyerJourney]:
        first = select(o.c.customer_id, func.min(o.c.placed_at).label("bought")).where(
            *self._counted()).group_by(o.c.customer_id)
        if start is not None:
            first = first.having(func.min(o.c.placed_at) >= start)
        if end is not None:
            first = first.having(func.min(o.c.placed_at) < end)
        buyers = first.subquery()
        order = (i.c.occurred_at, i.c.id)
        wanted = [] if kinds is None else [i.c.kind.in_(sorted(kinds))]
        touches = select(
            i.c.customer_id, i.c.occurred_at, i.c.id, i.c.channel, i.c.kind,
            func.lag(i.c.channel).over(partition_by=i.c.customer_id,
                                       order_by=order).label("prev_channel"),
            func.lag(i.c.kind).over(partition_by=i.c.customer_id,
                                    order_by=order).label("prev_kind"),
            func.min(i.c.occurred_at).over(partition_by=i.c.customer_id).label("first"),
        ).join(buyers, buyers.c.customer_id == i.c.customer_id).where(
            self._mine(i), i.c.occurred_at < buyers.c.bought, *wanted).subquery()
        t = touches.c
        changes = select(
            t.customer_id, t.occurred_at, t.id, t.channel, t.kind, t.first,
            func.row_number().over(partition_by=t.customer_id,
                                   order_by=(t.occurred_at.desc(), t.id.desc())).label("back"),
        ).where(or_(t.prev_kind.is_(None), t.prev_channel != t.channel,
                    t.prev_kind != t.kind)).subquery()
        c = changes.c
        last = select(c.customer_id, c.channel, c.kind, c.first).where(
            c.back <= max_length).order_by(c.customer_id, c.occurred_at, c.id)
        paths: dict[str, list[Touch]] = {}
        firsts: dict[str, datetime] = {}
        for cid, channel, kind, first_at in self._conn.execute(last):
            paths.setdefault(cid, []).append(Touch(channel, kind))
            firsts[cid] = first_at
        return [BuyerJourney(cid, bought, firsts.get(cid), tuple(paths.get(cid, ())))
                for cid, bought in self._conn.execute(select(buyers))]

    def funnel(self, steps: Sequence[FunnelStep], start: datetime, end: datetime,
               within: timedelta | None) -> list[int]:
        dialect = self._conn.dialect.name
        time, owner, conditions = self._step_source(steps[0])
        layer = select(owner.label("customer_id"), func.min(time).label("t0")).where(
            *conditions, time >= start, time < end).group_by(owner).subquery()
        for n, step in enumerate(steps[1:], start=1):
            time, owner, conditions = self._step_source(step)
            after = [owner == layer.c.customer_id, time > layer.c[f"t{n - 1}"],
                     time < end]
            if within is not None:
                after.append(not_after(dialect, time, layer.c.t0, within))
            reached = select(func.min(time)).where(*conditions, *after).scalar_subquery()
            layer = select(*layer.c, reached.label(f"t{n}")).subquery()
        counts = self._conn.execute(select(*(func.count(layer.c[f"t{n}"])
                                             for n in range(len(steps))))).one()
        return [int(count) for count in counts]

    def _step_source(self, step: FunnelStep) -> tuple[Any, Any, list[Any]]:
        """The time column, the customer column and the conditions of ``step``'s rows."""
        if step.is_order:
            conditions = self._counted()
            if step.channel is not None:
                conditions.append(o.c.channel == step.channel)
            if step.sku is not None:
                conditions.append(exists().where(self._mine(line),
                                                 line.c.order_id == o.c.order_id,
                                                 line.c.sku == step.sku))
            return o.c.placed_at, o.c.customer_id, conditions
        conditions = [self._mine(i), i.c.kind == step.kind]
        if step.channel is not None:
            conditions.append(i.c.channel == step.channel)
        if step.sku is not None:
            conditions.append(i.c.sku == step.sku)
        return i.c.occurred_at, i.c.customer_id, conditions

