"""RFM analysis: recency, frequency and monetary scores by quantile, and named segments.

Every backend works out the three metrics per customer (its own way: GROUP BY and window
functions in SQL, a loop on memory); what a score is and which segment a pair of scores
falls in is decided here, once.

A metric's score among ``n`` customers is ``1 + bins * worse // n``, where ``worse`` is
the number of customers whose value is strictly worse (recency: more days; frequency and
monetary: less). Ties share a score, and the score is the same whatever order the
customers come in.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from ecrm.domain.results import ResultTable
from ecrm.errors import ValidationError

MIN_BINS, MAX_BINS, DEFAULT_BINS = 2, 10, 5
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_bins(field: str, bins: object) -> int:
    """``bins`` when it is an int in 2..10, else :class:`ValidationError` naming ``field``."""
    if isinstance(bins, bool) or not isinstance(bins, int) \
            or not MIN_BINS <= bins <= MAX_BINS:
        raise ValidationError(field, f"must be an integer from {MIN_BINS} to {MAX_BINS}, "
                                     f"got {bins!r}")
    return bins


def score(worse: int, n: int, bins: int) -> int:
    """The score of a value that ``worse`` of ``n`` customers beat it on the bad side:
    ``1 + bins * worse // n`` (1..bins)."""
    return 1 + bins * worse // n


def scores(values: Sequence[Any], bins: int, *, lower_is_better: bool = False
           ) -> list[int]:
    """The score of each of ``values`` among them all, in their order. Higher values
    are better unless ``lower_is_better`` (recency in days)."""
    n = len(values)
    ranked = sorted(values)
    if lower_is_better:
        return [1 + bins * (n - bisect_right(ranked, v)) // n for v in values]
    return [1 + bins * bisect_left(ranked, v) // n for v in values]


def rescale(score: int, bins: int, to_bins: int) -> int:
    """``score`` out of ``bins`` on a scale of ``to_bins``: ``ceil(score * to_bins /
    bins)``."""
    return -(-score * to_bins // bins)


def score_label(r: int, f: int, m: int, bins: int) -> str:
    """The three scores as one text: ``"545"``; with 10 bins each takes two digits
    (``"100510"``), so the text still reads unambiguously and sorts by R, then F, M."""
    if bins < 10:
        return f"{r}{f}{m}"
    return f"{r:02d}{f:02d}{m:02d}"


# -- segments ------------------------------------------------------------------------------

Range = tuple[int, int]


def _range(value: object) -> Range | None:
    if value is None:
        return None
    if not isinstance(value, (tuple, list)) or len(value) != 2 \
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValidationError("segments", f"a score range is a pair of integers (lo, hi), "
                                          f"got {value!r}")
    lo, hi = value
    if not 1 <= lo <= hi:
        raise ValidationError("segments", f"the score range {value!r} needs 1 <= lo <= hi")
    return (lo, hi)


def _name(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValidationError("segments", f"a segment name is an identifier of letters, "
                                          f"digits and '_' (at most 64), got {value!r}")


@attrs.frozen
class RFMSegmentRule:
    """A named box of scores: a customer whose R, F and M scores fall in ``recency``,
    ``frequency`` and ``monetary`` (inclusive ranges ``(lo, hi)``) belongs to ``name``.
    A range left out (None) takes every score."""

    name: str = attrs.field(validator=_name)
    recency: Range | None = attrs.field(default=None, converter=_range)
    frequency: Range | None = attrs.field(default=None, converter=_range)
    monetary: Range | None = attrs.field(default=None, converter=_range)

    def ranges(self, bins: int) -> tuple[Range, Range, Range]:
        """The three ranges, a missing one as ``(1, bins)``."""
        whole = (1, bins)
        return (self.recency or whole, self.frequency or whole, self.monetary or whole)


def _rules(value: Iterable[RFMSegmentRule]) -> tuple[RFMSegmentRule, ...]:
    rules = tuple(value)
    if not rules or not all(isinstance(rule, RFMSegmentRule) for rule in rules):
        raise ValidationError("segments", "needs at least one RFMSegmentRule")
    return rules


def _map_bins(value: object) -> int | None:
    return None if value is None else check_bins("segments.bins", value)


@attrs.frozen
class RFMSegmentMap:
    """Ordered rules naming segments of RFM scores; the first rule a customer's scores
    match names their segment. ``bins`` says on which scale the ranges are written: when
    a table has another number of bins, its scores are rescaled to it first
    (``ceil(score * bins / table_bins)``). Without ``bins`` the ranges are in the
    table's own scores.

    Every combination of scores must match some rule (a last rule without ranges catches
    the rest): :meth:`cells` raises :class:`ValidationError` naming a combination that
    none matches.
    """

    rules: tuple[RFMSegmentRule, ...] = attrs.field(converter=_rules)
    bins: int | None = attrs.field(default=None, converter=_map_bins)

    def __attrs_post_init__(self) -> None:
        if self.bins is not None:
            self._check_ranges(self.bins)

    def names(self) -> tuple[str, ...]:
        """The segment names, each once, in the order of their first rule."""
        return tuple(dict.fromkeys(rule.name for rule in self.rules))

    def _check_ranges(self, bins: int) -> None:
        for rule in self.rules:
            for part in (rule.recency, rule.frequency, rule.monetary):
                if part is not None and part[1] > bins:
                    raise ValidationError("segments", f"rule {rule.name!r}: the range "
                                          f"{part!r} goes past {bins}, the number of bins")

    def boxes(self, bins: int) -> tuple[tuple[str, Range, Range, Range], ...]:
        """The rules as ranges of the table's own scores (out of ``bins``), in order:
        ``(name, recency, frequency, monetary)``. A rule no score of this table can
        match is left out."""
        if self.bins is None:
            self._check_ranges(bins)
        scale = self.bins or bins
        found = []
        for rule in self.rules:
            raw = [_raw_range(part, bins, scale) for part in rule.ranges(scale)]
            if all(part is not None for part in raw):
                found.append((rule.name, *raw))
        return tuple(found)  # type: ignore[arg-type]

    def cells(self, bins: int) -> dict[tuple[int, int, int], str]:
        """``(r, f, m) -> segment`` for every combination of scores out of ``bins``.

        :raises ValidationError: a combination no rule matches.
        """
        boxes = self.boxes(bins)
        table = {}
        for cell in _every_cell(bins):
            name = next((box[0] for box in boxes if _inside(cell, box[1:])), None)
            if name is None:
                r, f, m = cell
                raise ValidationError("segments", f"no rule matches r={r}, f={f}, m={m} "
                                      f"(out of {bins}); end with a catch-all rule such as "
                                      "RFMSegmentRule('other')")
            table[cell] = name
        return table


def _raw_range(part: Range, bins: int, scale: int) -> Range | None:
    """The scores out of ``bins`` whose rescaled value lies in ``part`` (out of
    ``scale``), or None when there are none (rescaling is monotone, so they run on)."""
    inside = [s for s in range(1, bins + 1) if part[0] <= rescale(s, bins, scale) <= part[1]]
    return (inside[0], inside[-1]) if inside else None


def _every_cell(bins: int) -> Iterable[tuple[int, int, int]]:
    span = range(1, bins + 1)
    return ((r, f, m) for r in span for f in span for m in span)


def _inside(cell: tuple[int, int, int], ranges: tuple[Range, Range, Range]) -> bool:
    return all(lo <= s <= hi for s, (lo, hi) in zip(cell, ranges, strict=True))


def _rule(name: str, recency: Range, frequency: Range) -> RFMSegmentRule:
    return RFMSegmentRule(name, recency, frequency)


#: The default segments, on R and F scores out of 5 (M does not decide a segment).
#: Listed in the order they are tried; together they cover all 25 cells.
DEFAULT_SEGMENTS = RFMSegmentMap((
    _rule("lost", (1, 1), (1, 1)),
    _rule("hibernating", (1, 2), (1, 2)),
    _rule("at_risk", (1, 2), (3, 4)),
    _rule("cant_lose", (1, 2), (5, 5)),
    _rule("about_to_sleep", (3, 3), (1, 2)),
    _rule("need_attention", (3, 3), (3, 3)),
    _rule("loyal", (3, 4), (4, 5)),
    _rule("promising", (4, 4), (1, 1)),
    _rule("new", (5, 5), (1, 1)),
    _rule("potential_loyalist", (4, 5), (2, 3)),
    _rule("champions", (5, 5), (4, 5)),
), bins=5)


# -- the table -----------------------------------------------------------------------------

@attrs.frozen
class RFMRow:
    """One customer: days since their last order, how many orders, what they spent (net,
    in the shop's currency), the three scores (1..bins, higher is better), the scores as
    one text (``"545"``) and the named segment."""

    customer_id: str
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    score: str
    segment: str


@attrs.frozen
class RFMTable(ResultTable[RFMRow]):
    """The RFM table, one row per customer with a counted order at ``as_of``, sorted by
    customer id."""

    row_type: ClassVar[type] = RFMRow
    as_of: datetime | None = None
    bins: int = DEFAULT_BINS
    currency: str = ""
    segments: RFMSegmentMap = DEFAULT_SEGMENTS

    def segment_counts(self) -> dict[str, int]:
        """Segment name -> how many customers it holds, every segment of the map in its
        order (empty ones too)."""
        counts = dict.fromkeys(self.segments.names(), 0)
        for row in self.rows:
            counts[row.segment] += 1
        return counts

    def by_segment(self, name: str) -> tuple[RFMRow, ...]:
        """The rows of segment ``name``.

        :raises ValidationError: ``name`` is not a segment of the map.
        """
        if name not in self.segments.names():
            raise ValidationError("name", f"{name!r} is not a segment; the segments are "
                                          + ", ".join(self.segments.names()))
        return tuple(row for row in self.rows if row.segment == name)


@attrs.frozen
class RFMScorer:
    """Turns a customer's metrics and scores into a row: the label and the segment out of
    the map, looked up in a table of every cell."""

    bins: int
    cells: dict[tuple[int, int, int], str]

    @classmethod
    def of(cls, segments: RFMSegmentMap, bins: int) -> RFMScorer:
        return cls(bins, segments.cells(bins))

    def row(self, customer_id: str, recency_days: int, frequency: int, monetary: Decimal,
            r: int, f: int, m: int) -> RFMRow:
        return RFMRow(customer_id, recency_days, frequency, monetary, r, f, m,
                      score_label(r, f, m, self.bins), self.cells[r, f, m])


def rows_from_metrics(metrics: Sequence[tuple[str, int, int, Decimal, int]],
                      scorer: RFMScorer) -> list[RFMRow]:
    """Rows for ``(customer_id, recency_days, frequency, monetary, monetary_minor)``
    tuples, scored among themselves (money ranked on its integer minor units), sorted by
    customer id: the plain-Python way, which the SQL backends' window functions must
    match."""
    bins = scorer.bins
    ordered = sorted(metrics)
    r = scores([m[1] for m in ordered], bins, lower_is_better=True)
    f = scores([m[2] for m in ordered], bins)
    m = scores([m[4] for m in ordered], bins)
    return [scorer.row(cid, days, count, money, r[i], f[i], m[i])
            for i, (cid, days, count, money, _) in enumerate(ordered)]
