"""RFM scores in one SQL query: the tenant's counted orders grouped by customer, then
ranked over the whole population with window functions.

::

    SELECT customer_id, recency_days, frequency, monetary,
           1 + (:bins * (RANK() OVER (ORDER BY recency_days DESC) - 1)) / COUNT(*) OVER () AS r,
           ... (ORDER BY frequency), ... (ORDER BY monetary)
    FROM (SELECT customer_id, <whole days from max(placed_at) to :as_of> AS recency_days,
                 count(*) AS frequency,
                 sum(CASE WHEN currency = :currency THEN total_minor - refunded_minor
                          ELSE 0 END) AS monetary
          FROM ecrm_orders WHERE tenant_id = :tenant AND status != 'cancelled'
            AND placed_at <= :as_of GROUP BY customer_id) AS rfm_metrics

``RANK()`` ordered worst first is one more than the number of customers strictly worse,
so ``r`` is :func:`ecrm.domain.rfm.score`, ties included. The division is integer
division on every dialect (``DIV`` on MySQL/MariaDB, whose ``/`` gives a rounded
decimal); money is ranked on integer minor units. Whole days are worked out exactly, to
the microsecond, in each dialect's own way.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import BigInteger, Integer, String, and_, case, cast, func, literal, select, true
from sqlalchemy.sql import Select

from ecrm.backends.sql import tables
from ecrm.backends.sql.segment_compare import MYSQL, integer_division
from ecrm.backends.sql.types import UTCDateTime
from ecrm.domain.orders import OrderStatus
from ecrm.domain.rfm import RFMSegmentMap

o = tables.orders
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US_PER_DAY = 86_400_000_000
_MICROSECOND = timedelta(microseconds=1)


def rfm_query(tenant: str, as_of: datetime, currency: str, bins: int, dialect: str
              ) -> Select[Any]:
    """The tenant's customers with a counted order at ``as_of`` and their RFM metrics
    and scores: columns ``customer_id, recency_days, frequency, monetary`` (net, in minor
    units of ``currency``), ``r, f, m``; unordered."""
    net = case((o.c.currency == currency, o.c.total_minor - o.c.refunded_minor), else_=0)
    last = func.max(o.c.placed_at)
    metrics = (select(o.c.customer_id,
                      whole_days(last, as_of, dialect).label("recency_days"),
                      func.count().label("frequency"),
                      cast(func.sum(net), BigInteger).label("monetary"))
               .where(o.c.tenant_id == tenant, o.c.status != OrderStatus.CANCELLED.value,
                      o.c.placed_at <= as_of)
               .group_by(o.c.customer_id)
               .subquery())
    everyone = func.count().over()

    def scored(order_by: Any) -> Any:
        worse = literal(bins, Integer) * (func.rank().over(order_by=order_by) - 1)
        return 1 + integer_division(worse, everyone, dialect)

    m = metrics.c
    return select(m.customer_id, m.recency_days, m.frequency, m.monetary,
                  scored(m.recency_days.desc()).label("r"),
                  scored(m.frequency).label("f"),
                  scored(m.monetary).label("m"))


def segment_case(scores: Any, segments: RFMSegmentMap, bins: int) -> Any:
    """The segment of the scores ``scores.r``, ``.f`` and ``.m`` (out of ``bins``) as a
    CASE over the map's rules in order, names bound as parameters."""
    whens = []
    for name, *ranges in segments.boxes(bins):
        tests = [column.between(lo, hi) for column, (lo, hi)
                 in zip((scores.r, scores.f, scores.m), ranges, strict=True)
                 if (lo, hi) != (1, bins)]
        whens.append((and_(*tests) if tests else true(), literal(name, String)))
        if not tests:
            break  # a catch-all: nothing after it can match
    return case(*whens)


def whole_days(time: Any, as_of: datetime, dialect: str) -> Any:
    """Whole days from ``time`` (a stored time, at or before ``as_of``) to ``as_of``,
    rounded down, exact to the microsecond."""
    if dialect == "postgresql":
        moment = literal(as_of, UTCDateTime)
        return cast(func.extract("day", moment - time), Integer)
    if dialect in MYSQL:  # TO_SECONDS drops the microseconds, so they are added apart
        moment = literal(as_of, UTCDateTime)
        return integer_division(_mysql_micros(moment) - _mysql_micros(time),
                                literal(_US_PER_DAY, BigInteger), dialect)
    # SQLite keeps times as 'YYYY-MM-DD HH:MM:SS.ffffff' text; its date functions round
    # to milliseconds, so the seconds and the microseconds are read apart.
    seconds = cast(func.strftime("%s", func.substr(time, 1, 19)), BigInteger)
    micros = cast(func.substr(time, 21, 6), BigInteger)
    as_of_us = (as_of - _EPOCH) // _MICROSECOND
    return (literal(as_of_us, BigInteger) - (seconds * 1_000_000 + micros)) \
        // literal(_US_PER_DAY, BigInteger)


def _mysql_micros(time: Any) -> Any:
    return func.to_seconds(time) * 1_000_000 + func.microsecond(time)
