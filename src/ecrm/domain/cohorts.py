"""Cohorts, repeat purchase and churn: the aggregates backends compute, the result
tables ``crm.analytics`` returns, and the pure functions that turn one into the other
(so every backend's answer is assembled by the same code).

Everywhere here an order *counts* when it is not cancelled, is in the shop's currency
and was placed at or before the as-of time; its revenue is its net amount (total less
refunds). A customer's *first order* is their earliest counted order over all history
up to the as-of time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any, ClassVar

import attrs

from ecrm.domain import money
from ecrm.domain.periods import Period, Periods
from ecrm.domain.results import ResultTable
from ecrm.errors import ValidationError

DAY = timedelta(days=1)
#: The default edges (in days) of the time-to-second-purchase distribution.
GAP_BINS = (1, 7, 30, 60, 90, 180, 365)


@attrs.frozen
class Scope:
    """Which orders an analysis reads: counted orders in ``currency`` placed at or before
    ``as_of`` (UTC). ``start``/``end`` (either may be None) bound a half-open window
    ``[start, end)``; each backend method says what the window applies to."""

    currency: str
    as_of: datetime
    start: datetime | None = None
    end: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        """True when ``moment`` lies in the window."""
        return ((self.start is None or self.start <= moment)
                and (self.end is None or moment < self.end))


# -- what backends return ---------------------------------------------------------------

@attrs.frozen
class CohortCell:
    """The customers acquired in period ``cohort`` who ordered in period ``period``
    (both numbers of :class:`~ecrm.domain.periods.Periods`): how many of them
    (``active``), their orders and revenue there."""

    cohort: int
    period: int
    active: int
    orders: int
    revenue: Decimal


@attrs.frozen
class RepeatFacts:
    """``customers`` with a counted order; for each who has a second one, the time from
    the first to the second (``gaps``, in any order)."""

    customers: int
    gaps: tuple[timedelta, ...] = attrs.field(converter=tuple)


@attrs.frozen
class ChurnCount:
    """How many customers of cohort number ``cohort`` are ``churned`` (or not)."""

    cohort: int
    churned: bool
    customers: int


# -- cohorts ----------------------------------------------------------------------------

@attrs.frozen
class CohortRow:
    """Cohort ``cohort`` (the first day of its acquisition period) in its
    ``period_index``-th period after acquisition (0: the acquisition period itself,
    which begins on ``period_start``). ``customers`` is the cohort's size; ``active`` how
    many of them have a counted order in that period; ``retention`` = active /
    customers; ``orders`` and ``revenue`` are the cohort's orders in that period.
    ``complete`` is False for the period still running at the as-of time."""

    cohort: date
    period_index: int
    period_start: date
    customers: int
    active: int
    retention: float
    orders: int
    revenue: Decimal
    complete: bool


@attrs.frozen
class CohortTable(ResultTable[CohortRow]):
    """One row per cohort and period index, cohorts oldest first, each from period 0 to
    the period that holds ``as_of`` (so the matrix is a triangle)."""

    row_type: ClassVar[type] = CohortRow
    period: Period = Period.MONTH
    tz: str = "UTC"
    as_of: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""

    def cohort_sizes(self) -> dict[date, int]:
        """Cohort -> its number of customers."""
        return {row.cohort: row.customers for row in self.rows if row.period_index == 0}

    def retention_matrix(self) -> dict[date, list[float]]:
        """Cohort -> retention in periods 0, 1, 2, ... (period 0 is always 1.0)."""
        return self._matrix(lambda row: row.retention)

    def revenue_matrix(self) -> dict[date, list[Decimal]]:
        """Cohort -> revenue in periods 0, 1, 2, ..."""
        return self._matrix(lambda row: row.revenue)

    def revenue_by_cohort(self) -> dict[date, Decimal]:
        """Cohort -> all its revenue up to the as-of time."""
        return {cohort: sum(values, Decimal(0)) if values else Decimal(0)
                for cohort, values in self.revenue_matrix().items()}

    def revenue_per_customer(self) -> dict[date, Decimal]:
        """Cohort -> its revenue up to the as-of time divided by its size (rounded as
        ecrm rounds averages: two places below the currency's minor unit)."""
        sizes = self.cohort_sizes()
        return {cohort: money.average(revenue, sizes[cohort], self.currency)
                for cohort, revenue in self.revenue_by_cohort().items()}

    def _matrix(self, value: Callable[[CohortRow], Any]) -> dict[date, list[Any]]:
        matrix: dict[date, list[Any]] = {}
        for row in self.rows:
            matrix.setdefault(row.cohort, []).append(value(row))
        return matrix


def cohort_table(cells: Iterable[CohortCell], periods: Periods | None, period: Period,
                 tz: str, scope: Scope) -> CohortTable:
    """The table from a backend's cells: every cohort with customers, each period from
    its acquisition to the last of ``periods`` (zeros where nobody ordered). No periods:
    no orders, and an empty table."""
    rows: list[CohortRow] = []
    if periods is not None:
        rows = _cohort_rows(cells, periods, scope)
    return CohortTable(rows, period, tz, scope.as_of, scope.start, scope.end,
                       scope.currency)


def _cohort_rows(cells: Iterable[CohortCell], periods: Periods, scope: Scope
                 ) -> list[CohortRow]:
    grid: dict[int, dict[int, CohortCell]] = {}
    for cell in cells:
        grid.setdefault(cell.cohort, {})[cell.period] = cell
    rows = []
    nobody = CohortCell(0, 0, 0, 0, Decimal(0))
    for cohort in sorted(grid):
        size = grid[cohort][cohort].active  # everyone orders in their acquisition period
        for k in range(cohort, len(periods)):
            cell = grid[cohort].get(k, nobody)
            rows.append(CohortRow(
                periods.firsts[cohort], k - cohort, periods.firsts[k], size, cell.active,
                cell.active / size, cell.orders, money.quantize(cell.revenue, scope.currency),
                periods.ended_by(k, scope.as_of)))
    return rows


# -- repeat purchase ----------------------------------------------------------------------

@attrs.frozen
class GapBucket:
    """Repeat customers whose second order came ``from_days`` to ``to_days`` (exclusive;
    None: no upper bound) days after their first; ``share`` of all repeat customers,
    and ``cumulative_share`` of those up to this bucket."""

    from_days: int
    to_days: int | None
    customers: int
    share: float
    cumulative_share: float


@attrs.frozen
class RepeatSummary(ResultTable[GapBucket]):
    """Repeat purchase: ``customers`` with at least one counted order, ``repeat_customers``
    with at least two, ``repeat_rate`` = repeat_customers / customers (0.0 for no
    customers), and the days from the first to the second order: median and mean (None
    without repeat customers). ``rows`` is their distribution in buckets of days."""

    row_type: ClassVar[type] = GapBucket
    customers: int = 0
    repeat_customers: int = 0
    repeat_rate: float = 0.0
    median_days_to_second: float | None = None
    mean_days_to_second: float | None = None
    as_of: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""


def check_bins(bins: object) -> tuple[int, ...]:
    """Bucket edges in days: increasing whole numbers above 0."""
    if isinstance(bins, (str, bytes)) or not isinstance(bins, Sequence):
        raise ValidationError("bins", "expected a sequence of whole numbers of days")
    edges = tuple(bins)
    if not edges or len(edges) > 100:
        raise ValidationError("bins", "needs 1 to 100 edges")
    if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in edges):
        raise ValidationError("bins", "edges must be whole numbers of days, at least 1")
    if any(a >= b for a, b in pairwise(edges)):
        raise ValidationError("bins", "edges must increase")
    return edges


def repeat_summary(facts: RepeatFacts, bins: Sequence[int], scope: Scope) -> RepeatSummary:
    """The summary of a backend's facts."""
    gaps = sorted(facts.gaps)
    repeaters = len(gaps)
    edges = (0, *bins)
    counts = [0] * len(edges)
    for gap in gaps:
        counts[_bucket(gap, edges)] += 1
    rows, running = [], 0
    for number, count in enumerate(counts):
        running += count
        rows.append(GapBucket(edges[number], edges[number + 1] if number + 1 < len(edges)
                              else None, count, _ratio(count, repeaters),
                              _ratio(running, repeaters)))
    median = mean = None
    if gaps:
        middle = repeaters // 2
        median = (gaps[middle] if repeaters % 2 else (gaps[middle - 1] + gaps[middle]) / 2) / DAY
        mean = sum(gaps, timedelta(0)) / repeaters / DAY
    return RepeatSummary(rows, facts.customers, repeaters, _ratio(repeaters, facts.customers),
                         median, mean, scope.as_of, scope.start, scope.end, scope.currency)


def _bucket(gap: timedelta, edges: Sequence[int]) -> int:
    number = 0
    while number + 1 < len(edges) and gap >= edges[number + 1] * DAY:
        number += 1
    return number


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- churn ------------------------------------------------------------------------------

@attrs.frozen
class ChurnRow:
    """The customers of one acquisition cohort (None when not split by cohort) who have
    a counted order: ``churned`` ones (last order more than ``inactive_days`` before
    the as-of time), ``active`` ones (the rest), and ``churn_rate`` = churned /
    customers."""

    cohort: date | None
    customers: int
    active: int
    churned: int
    churn_rate: float


@attrs.frozen
class ChurnReport(ResultTable[ChurnRow]):
    """Churn at ``as_of``: one row per acquisition cohort (oldest first) when split by
    ``period``, else one row (``cohort`` None). ``cutoff`` = as_of - inactive_days: a
    customer whose last order is before it has churned. The totals are properties."""

    row_type: ClassVar[type] = ChurnRow
    inactive_days: int = 0
    as_of: datetime | None = None
    cutoff: datetime | None = None
    period: Period | None = None
    tz: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""

    @property
    def customers(self) -> int:
        """Customers with a counted order, over all rows."""
        return sum(row.customers for row in self.rows)

    @property
    def churned(self) -> int:
        """Churned customers, over all rows."""
        return sum(row.churned for row in self.rows)

    @property
    def active(self) -> int:
        """Active customers, over all rows."""
        return self.customers - self.churned

    @property
    def churn_rate(self) -> float:
        """churned / customers over all rows (0.0 for no customers)."""
        return _ratio(self.churned, self.customers)


def churn_report(counts: Iterable[ChurnCount], periods: Periods | None,
                 split: Period | None, inactive_days: int, cutoff: datetime, scope: Scope,
                 tz: str | None) -> ChurnReport:
    """The report from a backend's counts. Split by cohort (``split`` set), cohort
    numbers index ``periods`` and there is a row per cohort with customers; unsplit,
    every count is of cohort 0 and there is exactly one row, even for no customers."""
    tally: dict[int, list[int]] = {} if split else {0: [0, 0]}
    for count in counts:
        tally.setdefault(count.cohort, [0, 0])[count.churned] += count.customers
    rows = []
    for cohort in sorted(tally):
        active, churned = tally[cohort]
        total = active + churned
        label = periods.firsts[cohort] if split and periods else None
        rows.append(ChurnRow(label, total, active, churned, _ratio(churned, total)))
    return ChurnReport(rows, inactive_days, scope.as_of, cutoff, split, tz if split else None,
                       scope.start, scope.end, scope.currency)
