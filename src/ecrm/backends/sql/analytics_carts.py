"""Cart, journey and funnel reads in SQL.

- Carts: the filtering is pushed down (the tenant's ``cart_add`` interactions and counted
  orders up to the as-of time, of the customers with a cart add in the window, ordered);
  :func:`ecrm.domain.journeys.cart_sessions` cuts them into sessions.
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
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.journeys import (
    CART_ADD,
    BuyerJourney,
    CartEvent,
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

