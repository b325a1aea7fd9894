"""Support figures: how fast a shop answers and resolves its cases, how often it misses its
targets, how satisfied its customers are, for all cases or per team, category, channel,
type, priority or assignee; the most frequent complaint categories and the customers who
complain again and again.

Conventions: rates are floats from 0 to 1 and NPS a float from -100 to 100, unrounded
(round when showing them); a rate or score is None when nothing could be counted.
Durations are business time by the SLA clocks of :mod:`ecrm.domain.sla` (the policy's
calendar, pending and resolved time left out), as ``timedelta``; a mean is rounded to the
microsecond and the median of an even count is the mean of the middle two.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
from ecrm.domain.cases import (
    Case,
    CaseType,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.sla import DONE, SupportPolicy, business_times
from ecrm.errors import ValidationError

#: The case fields :func:`case_figures` can group by.
GROUPINGS = ("team", "category", "channel", "type", "priority", "assignee")
#: CSAT scores that count as satisfied; NPS scores of promoters and of detractors.
SATISFIED = frozenset({4, 5})
PROMOTERS = frozenset({9, 10})
DETRACTORS = frozenset(range(0, 7))


@attrs.frozen
class CaseFigures:
    """The support figures of one group of cases.

    :param group: the value of the grouping field (a plain string), or None: all cases
        when not grouped, else the cases without a value in that field.
    :param cases: how many cases.
    :param resolved: cases resolved at least once (resolved or closed now, or reopened).
    :param first_response_mean: mean business time to the first response, over the cases
        answered by ``now`` (None if none).
    :param first_response_median: its median.
    :param resolution_mean: mean business time to resolution, over the cases resolved or
        closed at ``now`` (the time of their last resolution; None if none).
    :param resolution_median: its median.
    :param breach_rate: ``breached / cases`` (None without cases).
    :param breaches_by_metric: recorded breaches per metric, both metrics always present.
    :param csat: the share of answered CSAT surveys scoring 4 or 5 (None if none answered).
    :param csat_answers: answered CSAT surveys.
    :param nps: percent promoters (9-10) less percent detractors (0-6) of answered NPS
        surveys, -100 to 100 (None if none answered).
    :param nps_answers: answered NPS surveys.
    :param reopen_rate: ``reopened / resolved`` (None if none resolved).
    :param breached: cases with at least one recorded breach.
    :param reopened: cases reopened at least once (``reopen_count > 0``).
    """

    group: str | None
    cases: int
    resolved: int
    first_response_mean: timedelta | None
    first_response_median: timedelta | None
    resolution_mean: timedelta | None
    resolution_median: timedelta | None
    breach_rate: float | None
    breaches_by_metric: Mapping[SLAMetric, int]
    csat: float | None
    csat_answers: int
    nps: float | None
    nps_answers: int
    reopen_rate: float | None
    breached: int
    reopened: int


# -- small statistics --------------------------------------------------------------------


def mean(durations: Sequence[timedelta]) -> timedelta | None:
    """The mean duration (to the microsecond), None for none."""
    if not durations:
        return None
    return sum(durations, timedelta(0)) / len(durations)


def median(durations: Sequence[timedelta]) -> timedelta | None:
    """The median duration (the mean of the middle two for an even count), None for none."""
    if not durations:
        return None
    ordered, middle = sorted(durations), len(durations) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, None when ``whole`` is zero."""
    return part / whole if whole else None


def csat(scores: Sequence[int]) -> float | None:
    """The share of CSAT scores that are 4 or 5, None for none."""
    return rate(sum(score in SATISFIED for score in scores), len(scores))


def nps(scores: Sequence[int]) -> float | None:
    """Percent promoters less percent detractors, None for none."""
    if not scores:
        return None
    promoters = sum(score in PROMOTERS for score in scores)
    detractors = sum(score in DETRACTORS for score in scores)
    return 100 * (promoters - detractors) / len(scores)


# -- inputs ------------------------------------------------------------------------------


def _items(field: str, value: object, kind: type) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError(field, f"expected {kind.__name__} objects, got {value!r}")
    items = list(value)
    for item in items:
        if not isinstance(item, kind):
            raise ValidationError(field, f"expected {kind.__name__} objects, got {item!r}")
    return items


def _cases(value: object) -> list[Case]:
    cases: list[Case] = _items("cases", value, Case)
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValidationError("cases", f"case {case.id!r} is given twice")
        seen.add(case.id)
    return cases


def _histories(value: object) -> Mapping[str, list[StatusChange]]:
    if not isinstance(value, Mapping):
        raise ValidationError("histories", f"expected a mapping of case id to status "
                                           f"changes, got {type(value).__name__}")
    return {case_id: _items("histories", changes, StatusChange)
            for case_id, changes in value.items()}


def _by(value: object) -> str | None:
    if value is not None and value not in GROUPINGS:
        raise ValidationError("by", f"{value!r} is not one of None, "
                                    + ", ".join(map(repr, GROUPINGS)))
    return value  # type: ignore[return-value]


def group_of(case: Case, by: str | None) -> str | None:
    """The case's group when grouping ``by`` a field: the field's value as a plain string
    (None when unset), or None when not grouping."""
    if by is None:
        return None
    value = getattr(case, by)
    return None if value is None else str(value)


def was_resolved(case: Case) -> bool:
    """Whether the case was resolved at least once: resolved or closed now, stamped with a
    resolution or closing time, or reopened (only a resolved or closed case reopens)."""
    return (case.status in DONE or case.resolved_at is not None
            or case.closed_at is not None or case.reopen_count > 0)


# -- figures -----------------------------------------------------------------------------


@attrs.define
class _Group:
    """What one group's figures are counted from."""

    cases: int = 0
    resolved: int = 0
    reopened: int = 0
    first_responses: list[timedelta] = attrs.field(factory=list)
    resolutions: list[timedelta] = attrs.field(factory=list)
    breached: set[str] = attrs.field(factory=set)
    breaches: Counter[SLAMetric] = attrs.field(factory=Counter)
    scores: dict[SurveyKind, list[int]] = attrs.field(
        factory=lambda: {kind: [] for kind in SurveyKind})

    def figures(self, group: str | None) -> CaseFigures:
        """The group's figures."""
        csat_scores, nps_scores = self.scores[SurveyKind.CSAT], self.scores[SurveyKind.NPS]
        return CaseFigures(
            group=group, cases=self.cases, resolved=self.resolved,
            first_response_mean=mean(self.first_responses),
            first_response_median=median(self.first_responses),
            resolution_mean=mean(self.resolutions), resolution_median=median(self.resolutions),
            breach_rate=rate(len(self.breached), self.cases),
            breaches_by_metric={metric: self.breaches[metric] for metric in SLAMetric},
            csat=csat(csat_scores), csat_answers=len(csat_scores),
            nps=nps(nps_scores), nps_answers=len(nps_scores),
            reopen_rate=rate(self.reopened, self.resolved),
            breached=len(self.breached), reopened=self.reopened)


def _count_case(group: _Group, case: Case, history: list[StatusChange],
                policy: SupportPolicy, now: datetime) -> None:
    group.cases += 1
    group.resolved += was_resolved(case)
    group.reopened += case.reopen_count > 0
    first_response, resolution = business_times(case, history, policy, now)
    if first_response is not None:
        group.first_responses.append(first_response)
    if resolution is not None:
        group.resolutions.append(resolution)


def _count_breaches(groups: dict[str, _Group], breaches: Iterable[SLABreach]) -> None:
    seen: set[tuple[str, SLAMetric]] = set()  # one per case and metric
    for breach in breaches:
        key = (breach.case_id, SLAMetric(breach.metric))
        if breach.case_id in groups and key not in seen:
            seen.add(key)
            groups[breach.case_id].breached.add(breach.case_id)
            groups[breach.case_id].breaches[key[1]] += 1


def _count_surveys(groups: dict[str, _Group], surveys: Iterable[Survey]) -> None:
    seen: set[str] = set()
    for survey in surveys:
        if survey.case_id in groups and survey.score is not None and survey.id not in seen:
            seen.add(survey.id)
            groups[survey.case_id].scores[SurveyKind(survey.kind)].append(survey.score)


def case_figures(cases: Iterable[Case], histories: Mapping[str, list[StatusChange]],
                 breaches: Iterable[SLABreach], surveys: Iterable[Survey],
                 policy: SupportPolicy, now: datetime,
                 by: str | None = None) -> list[CaseFigures]:
    """The support figures of ``cases``, one :class:`CaseFigures` per group, sorted by
    group with None last.

    :param histories: each case's status changes by case id; a case left out counts as
        opened new and in its current status since it was resolved, closed or last updated.
    :param breaches: recorded breaches; those of other cases are ignored.
    :param surveys: survey requests and answers; unanswered ones and those of other cases
        are ignored.
    :param policy: the support policy whose calendar the durations count.
    :param now: the moment the clocks are read at.
    :param by: None (one figure for all cases, even none), or one of :data:`GROUPINGS`.
    """
    if not isinstance(policy, SupportPolicy):
        raise ValidationError("policy", f"expected a SupportPolicy, got {policy!r}")
    by, case_list = _by(by), _cases(cases)
    history_of, moment = _histories(histories), check.aware("now", now)
    assert moment is not None
    groups: dict[str | None, _Group] = {None: _Group()} if by is None else {}
    group_by_case: dict[str, _Group] = {}
    for case in case_list:
        group = groups.setdefault(group_of(case, by), _Group())
        _count_case(group, case, history_of.get(case.id, []), policy, moment)
        group_by_case[case.id] = group
    _count_breaches(group_by_case, _items("breaches", breaches, SLABreach))
    _count_surveys(group_by_case, _items("surveys", surveys, Survey))
    order = sorted(groups, key=lambda key: (key is None, key or ""))
    return [groups[key].figures(key) for key in order]


# -- rankings ----------------------------------------------------------------------------


def _type(value: object) -> CaseType | None:
    return None if value is None else check.choice(CaseType, "type")(value)


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def top_categories(cases: Iterable[Case], *, type: CaseType | str | None = CaseType.COMPLAINT,
                   limit: int = 10) -> list[tuple[str, int]]:
    """The ``limit`` most frequent categories of the cases of ``type`` (None: every type)
    with their counts, most frequent first, ties by name; cases without a category are
    left out."""
    wanted, limit = _type(type), check.positive_int("limit", limit)
    counts = Counter(case.category for case in _items("cases", cases, Case)
                     if case.category is not None and wanted in (None, case.type))
    return _ranked(counts)[:limit]


def repeat_complainers(cases: Iterable[Case], *, at_least: int = 2) -> list[tuple[str, int]]:
    """The customers with at least ``at_least`` complaint cases and how many, most first,
    ties by customer id."""
    at_least = check.positive_int("at_least", at_least)
    counts = Counter(case.customer_id for case in _items("cases", cases, Case)
                     if case.type == CaseType.COMPLAINT)
    return [item for item in _ranked(counts) if item[1] >= at_least]
