"""Cohort, repeat, churn and channel aggregates in SQL: GROUP BY and window functions run
in the database, and only the grouped answer comes back.

Periods are numbered by :func:`ecrm.backends.sql.periods.period_index`: boundaries
worked out in Python, compared in the statement, never a database's date functions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, distinct, func, literal, select
from sqlalchemy.sql import ColumnElement, Subquery

from ecrm.backends.sql import tables
from ecrm.backends.sql.periods import period_index
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.backends.sql.types import UTCDateTime
from ecrm.domain.channels import ChannelAcquisition, ChannelOrders
from ecrm.domain.cohorts import ChurnCount, CohortCell, RepeatFacts, Scope
from ecrm.domain.money import from_minor
from ecrm.domain.orders import OrderStatus
from ecrm.domain.periods import Periods

o = tables.orders
NET = o.c.total_minor - o.c.refunded_minor


def period_number(moment: ColumnElement[Any], periods: Periods | None
                  ) -> ColumnElement[int]:
    """The number of the period of ``periods`` that holds ``moment`` (a UTC time column
    inside their range); without periods, 0."""
    return period_index(moment, periods.bounds[:-1] if periods is not None else ())


def counted_orders(mine: ColumnElement[bool], currency: str, until: datetime
                   ) -> list[ColumnElement[bool]]:
    """The conditions of a counted order: the tenant's (``mine``), in ``currency``, not
    cancelled, placed by ``until``."""
    return [mine, o.c.currency == currency, o.c.status != OrderStatus.CANCELLED.value,
            o.c.placed_at <= until]


def in_window(moment: ColumnElement[Any], scope: Scope) -> list[ColumnElement[bool]]:
    """``scope.start <= moment < scope.end``, for the bounds that are set."""
    tests = []
    if scope.start is not None:
        tests.append(moment >= scope.start)
    if scope.end is not None:
        tests.append(moment < scope.end)
    return tests


class SQLCohortQueries(_TenantScoped):
    """Cohort and channel aggregates of one tenant's orders, pushed down."""

    def earliest_order(self, scope: Scope) -> datetime | None:
        query = select(func.min(o.c.placed_at)).where(*self._counted(scope),
                                                      *in_window(o.c.placed_at, scope))
        return self._conn.execute(query).scalar()  # type: ignore[no-any-return]

    def cohort_cells(self, scope: Scope, periods: Periods) -> list[CohortCell]:
        firsts = self._firsts(scope)
        cohorts = select(firsts.c.customer_id,
                         period_number(firsts.c.first_at, periods).label("cohort")
                         ).subquery("cohorts")
        activity = (select(cohorts.c.cohort,
                           period_number(o.c.placed_at, periods).label("period"),
                           o.c.customer_id, NET.label("net"))
                    .select_from(o.join(cohorts, o.c.customer_id == cohorts.c.customer_id))
                    .where(*self._counted(scope)).subquery("activity"))
        query = (select(activity.c.cohort, activity.c.period,
                        func.count(distinct(activity.c.customer_id)), func.count(),
                        func.sum(activity.c.net))
                 .group_by(activity.c.cohort, activity.c.period))
        return [CohortCell(cohort, period, active, orders, self._money(net, scope))
                for cohort, period, active, orders, net in self._conn.execute(query)]

    def repeat_facts(self, scope: Scope) -> RepeatFacts:
        customers = select(func.count()).select_from(self._firsts(scope))
        ranked = self._ranked(scope, by_id=False)  # the second time is the same either way
        pairs = (select(func.min(ranked.c.placed_at),
                        func.max(ranked.c.placed_at))
                 .where(ranked.c.seq <= 2).group_by(ranked.c.customer_id)
                 .having(func.count() == 2, *in_window(func.min(ranked.c.placed_at), scope)))
        gaps = [second - first for first, second in self._conn.execute(pairs)]
        return RepeatFacts(self._conn.execute(customers).scalar_one(), gaps)

    def churn_counts(self, scope: Scope, cutoff: datetime,
                     periods: Periods | None) -> list[ChurnCount]:
        spans = (select(func.min(o.c.placed_at).label("first_at"),
                        func.max(o.c.placed_at).label("last_at"))
                 .where(*self._counted(scope)).group_by(o.c.customer_id)
                 .having(*in_window(func.min(o.c.placed_at), scope)).subquery("spans"))
        marked = select(period_number(spans.c.first_at, periods).label("cohort"),
                        case((spans.c.last_at < literal(cutoff, UTCDateTime()), 1),
                             else_=0).label("churned")).subquery("marked")
        query = (select(marked.c.cohort, marked.c.churned, func.count())
                 .group_by(marked.c.cohort, marked.c.churned))
        return [ChurnCount(cohort, bool(churned), customers)
                for cohort, churned, customers in self._conn.execute(query)]

    def channel_acquisition(self, scope: Scope) -> list[ChannelAcquisition]:
        ranked = self._ranked(scope)
        query = (select(ranked.c.channel, func.count(),
                        func.sum(case((ranked.c.orders >= 2, 1), else_=0)))
                 .where(ranked.c.seq == 1, *in_window(ranked.c.placed_at, scope))
                 .group_by(ranked.c.channel))
        return [ChannelAcquisition(channel, customers, int(repeaters))
                for channel, customers, repeaters in self._conn.execute(query)]

    def channel_orders(self, scope: Scope, periods: Periods | None) -> list[ChannelOrders]:
        placed = (select(period_number(o.c.placed_at, periods).label("period"), o.c.channel,
                         o.c.customer_id, NET.label("net"))
                  .where(*self._counted(scope), *in_window(o.c.placed_at, scope))
                  .subquery("placed"))
        query = (select(placed.c.period, placed.c.channel, func.count(),
                        func.count(distinct(placed.c.customer_id)), func.sum(placed.c.net))
                 .group_by(placed.c.period, placed.c.channel))
        return [ChannelOrders(period, channel, orders, customers, self._money(net, scope))
                for period, channel, orders, customers, net in self._conn.execute(query)]

    # -- shared parts -------------------------------------------------------------------

    def _counted(self, scope: Scope) -> list[ColumnElement[bool]]:
        """The tenant's counted orders of ``scope``."""
        return counted_orders(self._mine(o), scope.currency, scope.as_of)

    def _firsts(self, scope: Scope) -> Subquery:
        """Each customer whose first order lies in the window, and its time."""
        first_at = func.min(o.c.placed_at)
        return (select(o.c.customer_id, first_at.label("first_at"))
                .where(*self._counted(scope)).group_by(o.c.customer_id)
                .having(*in_window(first_at, scope)).subquery("firsts"))

    def _ranked(self, scope: Scope, *, by_id: bool = True) -> Subquery:
        """Every counted order with its rank among its customer's (1: the first; ties by
        order id, or in any order without ``by_id``, which lets SQLite read the orders in
        its index order instead of sorting them) and the customer's number of orders."""
        order_by = (o.c.placed_at, o.c.order_id) if by_id else (o.c.placed_at,)
        return (select(o.c.customer_id, o.c.channel, o.c.placed_at,
                       func.row_number().over(partition_by=o.c.customer_id,
                                              order_by=order_by).label("seq"),
                       func.count().over(partition_by=o.c.customer_id).label("orders"))
                .where(*self._counted(scope)).subquery("ranked"))

    @staticmethod
    def _money(minor: Any, scope: Scope) -> Any:
        return from_minor(int(minor), scope.currency)
