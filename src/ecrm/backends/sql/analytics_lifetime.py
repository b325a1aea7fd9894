"""Lifetime-value aggregates in SQL: each customer's orders grouped in the database, by
customer (historical value) and by customer and calendar day (the BG/NBD summary).

The calendar day of an order in the shop's time zone is found without the database
knowing the zone: the zone's UTC offset in force at each order (one value for a zone that
never changed over the orders' span, else a ``CASE`` over the instants it changed, from
:func:`ecrm.domain.lifetime.offset_schedule`) is added to the stored UTC time and the
date taken, with each database's own date arithmetic::

    SQLite      date(substr(placed_at, 1, 19), <offset> || ' seconds')
    PostgreSQL  CAST(placed_at + <offset> * INTERVAL '1 second' AS DATE)
    MariaDB     DATE(DATE_ADD(placed_at, INTERVAL (<offset>) SECOND))

The per-day rows never leave the database: a second GROUP BY folds them into one row per
customer, with the first day's revenue picked by a window function (``MIN(day) OVER
(PARTITION BY customer_id)``).
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Date, case, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.analytics_cohorts import counted_orders
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.lifetime import CustomerHistory, OffsetSchedule, PurchaseDays, offset_schedule
from ecrm.domain.money import from_minor

o = tables.orders


class shifted_date(FunctionElement[date]):
    """``shifted_date(utc_time, seconds)``: the date of ``utc_time`` plus ``seconds``."""

    type = Date()
    name = "shifted_date"
    inherit_cache = True


@compiles(shifted_date)
def _postgresql(element: shifted_date, compiler: Any, **kw: Any) -> str:
    at, seconds = (compiler.process(part, **kw) for part in element.clauses)
    return f"CAST({at} + CAST({seconds} AS INTEGER) * INTERVAL '1 second' AS DATE)"


@compiles(shifted_date, "sqlite")
def _sqlite(element: shifted_date, compiler: Any, **kw: Any) -> str:
    at, seconds = (compiler.process(part, **kw) for part in element.clauses)
    # SQLite's date arithmetic works in whole milliseconds, rounded: 23:59:59.9999 would
    # land on the next day. The stored text ('YYYY-MM-DD HH:MM:SS.ffffff') cut to whole
    # seconds cannot cross midnight, and offsets are whole seconds.
    return f"date(substr({at}, 1, 19), ({seconds}) || ' seconds')"


@compiles(shifted_date, "mysql")
@compiles(shifted_date, "mariadb")
def _mysql(element: shifted_date, compiler: Any, **kw: Any) -> str:
    at, seconds = (compiler.process(part, **kw) for part in element.clauses)
    return f"DATE(DATE_ADD({at}, INTERVAL ({seconds}) SECOND))"


def offset_in_force(at: Any, schedule: OffsetSchedule) -> ColumnElement[int]:
    """The schedule's offset at the time ``at`` as an SQL expression: a constant, or a
    ``CASE`` testing the latest change first (recent orders are the common ones)."""
    if not schedule.changes:
        return literal(schedule.first)
    whens = [(at >= since, offset) for since, offset in reversed(schedule.changes)]
    return case(*whens, else_=schedule.first)


class SQLLifetimeQueries(_TenantScoped):
    """``customer_histories`` and ``purchase_days``, pushed down to the database."""

    def customer_histories(self, currency: str, as_of: datetime) -> list[CustomerHistory]:
        query = (select(o.c.customer_id, func.count(),
                        func.sum(o.c.total_minor - o.c.refunded_minor),
                        func.min(o.c.placed_at), func.max(o.c.placed_at))
                 .where(*counted_orders(self._mine(o), currency, as_of))
                 .group_by(o.c.customer_id).order_by(o.c.customer_id))
        return [CustomerHistory(cid, count, from_minor(int(net), currency), first, last)
                for cid, count, net, first, last in self._conn.execute(query)]

    def purchase_days(self, currency: str, until: datetime, tz: tzinfo,
                      since: datetime | None = None) -> list[PurchaseDays]:
        counted = counted_orders(self._mine(o), currency, until)
        earliest = self._conn.execute(select(func.min(o.c.placed_at)).where(*counted)
                                      ).scalar()
        if earliest is None:
            return []
        schedule = offset_schedule(tz, earliest, until)
        orders = select(
            o.c.customer_id,
            shifted_date(o.c.placed_at, offset_in_force(o.c.placed_at, schedule)).label("day"),
            (o.c.total_minor - o.c.refunded_minor).label("net"),
            o.c.placed_at,
        ).where(*counted).subquery("counted_orders")
        per_day = [orders.c.customer_id, orders.c.day, func.sum(orders.c.net).label("revenue"),
                   func.min(orders.c.day).over(partition_by=orders.c.customer_id)
                   .label("first_day")]
        if since is not None:
            per_day.append(func.min(orders.c.placed_at).label("first_at"))
        days = (select(*per_day).group_by(orders.c.customer_id, orders.c.day)
                .subquery("purchase_days"))
        query = (select(
            days.c.customer_id, func.min(days.c.day), func.max(days.c.day), func.count(),
            func.sum(days.c.revenue),
            func.sum(case((days.c.day == days.c.first_day, days.c.revenue), else_=0)),
        ).group_by(days.c.customer_id).order_by(days.c.customer_id))
        if since is not None:
            query = query.having(func.min(days.c.first_at) >= since)
        return [PurchaseDays(cid, first, last, count, from_minor(int(revenue), currency),
                             from_minor(int(first_revenue), currency))
                for cid, first, last, count, revenue, first_revenue
                in self._conn.execute(query)]
