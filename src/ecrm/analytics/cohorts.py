"""Cohorts, repeat purchase and churn (``crm.analytics.cohorts``, ``.repeat_purchase``,
``.churn``): do the customers a shop wins come back, how soon, and how many has it lost?

Definitions (docs/analytics-cohorts.md has them in full): an order counts when it is
not cancelled, is in the shop's currency and was placed at or before ``as_of``; revenue
is net of refunds; a customer's first order is their earliest counted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING

from ecrm.domain import validation as check
from ecrm.domain.cohorts import (
    GAP_BINS,
    ChurnReport,
    CohortTable,
    RepeatSummary,
    Scope,
    check_bins,
    churn_report,
    cohort_table,
    repeat_summary,
)
from ecrm.domain.periods import Period, Periods, parse_period, parse_tz, span, zone_name
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.backends.base import UnitOfWork
    from ecrm.crm import CRM

#: The longest inactivity ``churn`` accepts: a century.
MAX_INACTIVE_DAYS = 36_525


def scope_of(crm: CRM, as_of: object, start: object, end: object) -> Scope:
    """The checked scope of an analysis: ``as_of`` (default: the CRM's clock now) and the
    window ``[start, end)``, all timezone-aware.

    :raises ValidationError: a naive time, or ``end`` not after ``start``.
    """
    moment = crm.clock.now() if as_of is None else check.aware("as_of", as_of)
    first = check.aware("start", start, required=False)
    last = check.aware("end", end, required=False)
    if first is not None and last is not None and not first < last:
        raise ValidationError("end", "must be after start")
    assert moment is not None
    return Scope(crm.currency, moment.astimezone(timezone.utc), first, last)


def periods_to(uow: UnitOfWork, scope: Scope, last: datetime, period: Period,
               zone: tzinfo) -> Periods | None:
    """The periods from the one holding the scope's earliest order in its window to the
    one holding ``last``; None when there is no such order."""
    first = uow.analytics.earliest_order(scope)
    if first is None or first > last:
        return None
    return span(first, last, period, zone)


class CohortAnalysis:
    """The ``cohorts``, ``repeat_purchase`` and ``churn`` parts of ``crm.analytics``."""

    _crm: CRM

    def cohorts(self, *, period: str | Period = "month", tz: object = "UTC",
                start: datetime | None = None, end: datetime | None = None,
                as_of: datetime | None = None) -> CohortTable:
        """Acquisition cohorts and their retention. A customer's cohort is the period (in
        zone ``tz``) of their first counted order; row ``(cohort, k)`` counts the
        cohort's customers with a counted order in the k-th period after it (k = 0 is
        the acquisition period), their orders and revenue, for k up to the period
        holding ``as_of`` (the last row of each cohort is then ``complete=False``).

        :param period: "day", "week" (ISO, Monday first), "month", "quarter" or "year".
        :param tz: the zone periods follow: an IANA name, a ``ZoneInfo`` or a
            ``datetime.timezone``.
        :param start: with ``end``, only the customers whose first order was placed in
            ``[start, end)``; pass period boundaries for whole cohorts.
        :param as_of: the moment to look from (default: now); later orders are ignored.
        :raises ValidationError: a bad period or zone, naive or reversed times, or more
            than 1,000 periods from the first cohort to ``as_of``.
        """
        kind, zone = parse_period(period), parse_tz(tz)
        scope = scope_of(self._crm, as_of, start, end)

        def read(uow: UnitOfWork) -> CohortTable:
            periods = periods_to(uow, scope, scope.as_of, kind, zone)
            cells = uow.analytics.cohort_cells(scope, periods) if periods else []
            return cohort_table(cells, periods, kind, zone_name(zone), scope)

        return self._crm.transact(read, read_only=True)

    def repeat_purchase(self, *, as_of: datetime | None = None,
                        start: datetime | None = None, end: datetime | None = None,
                        bins: Sequence[int] = GAP_BINS) -> RepeatSummary:
        """How many customers bought again, and how soon. Over the customers with a
        counted order (whose first order was placed in ``[start, end)``, when given):
        how many have a second one, the repeat rate, the median and mean days from the
        first order to the second, and their distribution in buckets of days with
        edges ``bins`` (default 1, 7, 30, 60, 90, 180, 365: ``[0, 1)``, ``[1, 7)``, ...,
        ``[365, ...)``).

        :raises ValidationError: naive or reversed times, bad ``bins``.
        """
        edges = check_bins(bins)
        scope = scope_of(self._crm, as_of, start, end)
        facts = self._crm.transact(lambda uow: uow.analytics.repeat_facts(scope),
                                   read_only=True)
        return repeat_summary(facts, edges, scope)

    def churn(self, *, inactive_days: int, as_of: datetime | None = None,
              period: str | Period | None = None, tz: object = "UTC",
              start: datetime | None = None, end: datetime | None = None) -> ChurnReport:
        """Churn by your definition: a customer who has a counted order is *churned* at
        ``as_of`` when their last counted order was placed more than ``inactive_days``
        days (of 24 hours) before it, and *active* otherwise.

        :param period: split the customers by acquisition cohort (the period of their
            first order, in zone ``tz``); None (the default) gives one row.
        :param start: with ``end``, only the customers whose first order was placed in
            ``[start, end)``.
        :raises ValidationError: ``inactive_days`` not a whole number from 1 to 36525,
            a bad period or zone, naive or reversed times.
        """
        days = check.positive_int("inactive_days", inactive_days)
        if days > MAX_INACTIVE_DAYS:
            raise ValidationError("inactive_days", f"at most {MAX_INACTIVE_DAYS}")
        split = None if period is None else parse_period(period)
        zone = parse_tz(tz)
        scope = scope_of(self._crm, as_of, start, end)
        try:
            cutoff = scope.as_of - timedelta(days=days)
        except OverflowError:
            raise ValidationError("inactive_days", "reaches back before the year 1") from None

        def read(uow: UnitOfWork) -> ChurnReport:
            periods = periods_to(uow, scope, scope.as_of, split, zone) if split else None
            counts = uow.analytics.churn_counts(scope, cutoff, periods) \
                if periods or not split else []
            return churn_report(counts, periods, split, days, cutoff, scope,
                                zone_name(zone))

        return self._crm.transact(read, read_only=True)
