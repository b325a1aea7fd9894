"""Support figures: a worked example by hand; grouping partitions the totals, rates and scores
stay in range, durations agree with the SLA clocks; rankings; every refusal."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta, timezone
from fractions import Fraction
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.business_hours import BusinessCalendar
from ecrm.domain.case_figures import (
    GROUPINGS,
    CaseFigures,
    case_figures,
    csat,
    median,
    nps,
    repeat_complainers,
    top_categories,
)
from ecrm.domain.cases import (
    SCORE_RANGE,
    Case,
    CaseStatus,
    CaseType,
    Priority,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.sla import SupportPolicy, business_times
from ecrm.errors import ValidationError

UTC = timezone.utc
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
T = datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
NOW = T + timedelta(days=2)
ALWAYS = SupportPolicy()
FR, RES = SLAMetric.FIRST_RESPONSE, SLAMetric.RESOLUTION


def a_case(case_id: str, **fields: Any) -> Case:
    """A new complaint opened at ``T`` by customer u1, changed by ``fields``."""
    case = Case(id=case_id, customer_id="u1", type=CaseType.COMPLAINT, subject="Help",
                priority=Priority.NORMAL, status=CaseStatus.NEW, channel="email",
                opened_at=T, updated_at=T)
    return attrs.evolve(case, **fields)


def history(case_id: str, opened: datetime, *steps: tuple[float, CaseStatus]
            ) -> list[StatusChange]:
    """Opened new at ``opened``, then each ``(hours after opening, status)``."""
    changes = [StatusChange(case_id, 1, opened, None, CaseStatus.NEW)]
    for hours, status in steps:
        changes.append(StatusChange(case_id, len(changes) + 1, opened + hours * HOUR,
                                    changes[-1].new, status))
    return changes


def survey(case_id: str, kind: SurveyKind, score: int | None) -> Survey:
    """A survey of the case, answered with ``score`` (None: unanswered)."""
    return Survey(id=f"{case_id}-{kind.value}", case_id=case_id, customer_id="u1", kind=kind,
                  requested_at=T, answered_at=None if score is None else NOW, score=score)


# -- the worked example ------------------------------------------------------------------

#: c1 answered after 1h, resolved after 5h. c2 answered after 3h, pending 4h-10h, resolved
#: at 12h, reopened at 20h, resolved again at 22h: 8h of resolution time. c3 untouched.
#: c4 answered after 2h, resolved after 6h, closed after 30h.
CASES = [
    a_case("c1", team="a", category="damaged", priority=Priority.HIGH, assignee="kim",
           status=CaseStatus.RESOLVED, first_response_at=T + HOUR, resolved_at=T + 5 * HOUR),
    a_case("c2", team="a", category="late", channel="line", status=CaseStatus.RESOLVED,
           first_response_at=T + 3 * HOUR, resolved_at=T + 22 * HOUR, reopen_count=1),
    a_case("c3", team="b", category="damaged", type=CaseType.INQUIRY, customer_id="u2"),
    a_case("c4", status=CaseStatus.CLOSED, first_response_at=T + 2 * HOUR,
           resolved_at=T + 6 * HOUR, closed_at=T + 30 * HOUR),
]
HISTORIES = {
    "c1": history("c1", T, (1, CaseStatus.OPEN), (5, CaseStatus.RESOLVED)),
    "c2": history("c2", T, (3, CaseStatus.OPEN), (4, CaseStatus.PENDING), (10, CaseStatus.OPEN),
                  (12, CaseStatus.RESOLVED), (20, CaseStatus.OPEN), (22, CaseStatus.RESOLVED)),
    "c3": history("c3", T),
    "c4": history("c4", T, (2, CaseStatus.OPEN), (6, CaseStatus.RESOLVED),
                  (30, CaseStatus.CLOSED)),
}
BREACHES = [SLABreach("c2", RES, T + 7 * HOUR, T + 8 * HOUR),
            SLABreach("c3", FR, T + 4 * HOUR, T + 5 * HOUR),
            SLABreach("c3", FR, T + 4 * HOUR, T + 5 * HOUR),  # delivered twice: counted once
            SLABreach("elsewhere", FR, T, T)]
SURVEYS = [survey("c1", SurveyKind.CSAT, 5), survey("c2", SurveyKind.CSAT, 3),
           survey("c2", SurveyKind.NPS, 9), survey("c3", SurveyKind.NPS, 3),
           survey("c4", SurveyKind.NPS, 10), survey("c4", SurveyKind.CSAT, None),
           survey("elsewhere", SurveyKind.CSAT, 1)]


def test_the_worked_example_for_all_cases() -> None:
    [figures] = case_figures(CASES, HISTORIES, BREACHES, SURVEYS, ALWAYS, NOW)

    assert figures == CaseFigures(
        group=None, cases=4, resolved=3,
        first_response_mean=2 * HOUR, first_response_median=2 * HOUR,
        resolution_mean=timedelta(hours=19) / 3, resolution_median=6 * HOUR,
        breach_rate=0.5, breaches_by_metric={FR: 1, RES: 1},
        csat=0.5, csat_answers=2, nps=100 / 3, nps_answers=3,
        reopen_rate=1 / 3, breached=2, reopened=1)


def test_the_worked_example_by_team() -> None:
    a, b, none = case_figures(CASES, HISTORIES, BREACHES, SURVEYS, ALWAYS, NOW, by="team")

    assert (a.group, a.cases, a.resolved, a.reopen_rate) == ("a", 2, 2, 0.5)
    assert (a.first_response_mean, a.resolution_mean, a.resolution_median) == (
        2 * HOUR, 6.5 * HOUR, 6.5 * HOUR)
    assert (a.breach_rate, a.csat, a.nps) == (0.5, 0.5, 100.0)
    assert (b.group, b.cases, b.resolved, b.reopen_rate, b.first_response_mean) == (
        "b", 1, 0, None, None)
    assert (b.breach_rate, b.breaches_by_metric, b.csat, b.nps) == (
        1.0, {FR: 1, RES: 0}, None, -100.0)
    assert (none.group, none.cases, none.resolution_mean, none.csat_answers) == (
        None, 1, 6 * HOUR, 0)


def test_enum_groups_are_plain_strings_in_order() -> None:
    by_priority = case_figures(CASES, HISTORIES, [], [], ALWAYS, NOW, by="priority")
    by_assignee = case_figures(CASES, HISTORIES, [], [], ALWAYS, NOW, by="assignee")

    assert [(f.group, f.cases) for f in by_priority] == [("high", 1), ("normal", 3)]
    assert type(by_priority[0].group) is str
    assert [(f.group, f.cases) for f in by_assignee] == [("kim", 1), (None, 3)]


def test_durations_are_business_time() -> None:
    office = SupportPolicy(calendar=BusinessCalendar.weekdays(
        opens=time(9), closes=time(18), timezone="Asia/Tokyo"))
    friday = datetime(2026, 1, 9, 8, tzinfo=UTC)  # 17:00 in Tokyo
    case = a_case("c1", opened_at=friday, status=CaseStatus.RESOLVED,
                  first_response_at=friday + 65 * HOUR,  # Monday 10:00 in Tokyo
                  resolved_at=friday + 67 * HOUR)
    changes = history("c1", friday, (65, CaseStatus.OPEN), (67, CaseStatus.RESOLVED))

    [figures] = case_figures([case], {"c1": changes}, [], [], office, friday + 100 * HOUR)

    assert figures.first_response_mean == 2 * HOUR and figures.resolution_median == 4 * HOUR


def test_no_cases_gives_one_empty_figure_or_no_groups() -> None:
    [figures] = case_figures([], {}, BREACHES, SURVEYS, ALWAYS, NOW)

    assert figures == CaseFigures(None, 0, 0, None, None, None, None, None, {FR: 0, RES: 0},
                                  None, 0, None, 0, None, 0, 0)
    assert case_figures([], {}, [], [], ALWAYS, NOW, by="team") == []


def test_a_case_without_a_history_counts_from_its_fields() -> None:
    [figures] = case_figures(CASES, {}, [], [], ALWAYS, NOW)

    assert figures.resolved == 3
    # c1 and c4 resolved 5h and 6h after opening; c2's last resolution 22h after, its
    # pending time unknown without the history.
    assert figures.resolution_median == 6 * HOUR


def test_median_of_an_even_count_is_the_mean_of_the_middle_two() -> None:
    assert median([4 * HOUR, HOUR, 2 * HOUR, 10 * HOUR]) == 3 * HOUR
    assert median([HOUR, timedelta(microseconds=1)]) == timedelta(seconds=1800,
                                                                  microseconds=0)
    assert median([]) is None


def test_score_boundaries() -> None:
    assert nps([6, 7, 8, 9]) == 0.0  # one detractor (6), two passives, one promoter
    assert nps(list(range(11))) == 100 * (2 - 7) / 11
    assert nps([10, 10]) == 100.0 and nps([0]) == -100.0 and nps([]) is None
    assert csat([3, 4]) == 0.5 and csat([1, 2, 3]) == 0.0 and csat([5]) == 1.0
    assert csat([]) is None


def test_resolved_at_least_once() -> None:
    reopened = a_case("c1", status=CaseStatus.OPEN, reopen_count=1)
    pending = a_case("c2", status=CaseStatus.PENDING)

    [figures] = case_figures([reopened, pending], {}, [], [], ALWAYS, NOW)

    assert (figures.resolved, figures.reopened, figures.reopen_rate) == (1, 1, 1.0)


# -- properties --------------------------------------------------------------------------


LABELS = st.sampled_from([None, "a", "b", "c"])


#: Cases, their histories, breaches and surveys.
CaseSet = tuple[list[Case], dict[str, list[StatusChange]], list[SLABreach], list[Survey]]


@st.composite
def case_sets(draw: st.DrawFn) -> CaseSet:
    """Up to a dozen cases with random fields and short histories, breaches and surveys
    (some of other cases, some repeated)."""
    cases, histories = [], {}
    for index in range(draw(st.integers(0, 12))):
        case_id = f"c{index}"
        opened = T + draw(st.integers(0, 3000)) * MINUTE
        statuses = draw(st.lists(st.sampled_from(list(CaseStatus)), max_size=4))
        steps, hours = [], 0.0
        for status in statuses:
            hours += draw(st.integers(0, 600)) / 60
            steps.append((hours, status))
        minutes = draw(st.none() | st.integers(0, 3000))
        responded = None if minutes is None else opened + minutes * MINUTE
        case = a_case(case_id, opened_at=opened, team=draw(LABELS), category=draw(LABELS),
                      assignee=draw(LABELS), channel=draw(st.sampled_from(["email", "line"])),
                      type=draw(st.sampled_from(list(CaseType))),
                      priority=draw(st.sampled_from(list(Priority))),
                      customer_id=draw(st.sampled_from(["u1", "u2", "u3"])),
                      status=statuses[-1] if statuses else CaseStatus.NEW,
                      first_response_at=responded, reopen_count=draw(st.integers(0, 2)))
        cases.append(case)
        if draw(st.booleans()) or steps:
            histories[case_id] = history(case_id, opened, *steps)
    ids = [case.id for case in cases] + ["elsewhere"]
    breaches = [SLABreach(case_id, metric, T, T) for case_id, metric in draw(st.lists(
        st.tuples(st.sampled_from(ids), st.sampled_from(list(SLAMetric))), max_size=10))]
    surveys = []
    for index, (case_id, kind) in enumerate(draw(st.lists(st.tuples(
            st.sampled_from(ids), st.sampled_from(list(SurveyKind))), max_size=10))):
        score = draw(st.none() | st.sampled_from(SCORE_RANGE[kind]))
        surveys.append(attrs.evolve(survey(case_id, kind, score), id=f"s{index}"))
    return cases, histories, breaches, surveys


ADDITIVE = ("cases", "resolved", "breached", "reopened", "csat_answers", "nps_answers")


@given(data=case_sets(), by=st.sampled_from(GROUPINGS))
def test_grouping_partitions_the_totals(data: CaseSet, by: str) -> None:
    cases, histories, breaches, surveys = data
    [whole] = case_figures(cases, histories, breaches, surveys, ALWAYS, NOW)
    groups = case_figures(cases, histories, breaches, surveys, ALWAYS, NOW, by=by)

    keys = [figures.group for figures in groups]
    assert keys == sorted(k for k in keys if k is not None) + ([None] if None in keys else [])
    for figures in groups:
        assert figures.cases == sum(
            1 for case in cases if (None if getattr(case, by) is None
                                    else str(getattr(case, by))) == figures.group) > 0
    for name in ADDITIVE:
        assert sum(getattr(figures, name) for figures in groups) == getattr(whole, name)
    for metric in SLAMetric:
        assert sum(f.breaches_by_metric[metric] for f in groups) == whole.breaches_by_metric[
            metric]


@given(data=case_sets(), by=st.sampled_from((None, *GROUPINGS)))
def test_rates_and_scores_stay_in_range(data: CaseSet, by: str | None) -> None:
    cases, histories, breaches, surveys = data
    for figures in case_figures(cases, histories, breaches, surveys, ALWAYS, NOW, by=by):
        for value in (figures.breach_rate, figures.csat, figures.reopen_rate):
            assert value is None or 0 <= value <= 1
        assert figures.nps is None or -100 <= figures.nps <= 100
        assert (figures.breach_rate is None) == (figures.cases == 0)
        assert (figures.csat is None) == (figures.csat_answers == 0)
        assert (figures.nps is None) == (figures.nps_answers == 0)
        if figures.cases:
            assert figures.breach_rate == figures.breached / figures.cases
        assert figures.reopened <= figures.resolved <= figures.cases
        assert all(n <= figures.breached for n in figures.breaches_by_metric.values())


def exact_mean(durations: list[timedelta]) -> timedelta | None:
    """The mean in microseconds, rounded half to even."""
    if not durations:
        return None
    total = sum(duration // timedelta(microseconds=1) for duration in durations)
    return timedelta(microseconds=round(Fraction(total, len(durations))))


@given(data=case_sets())
def test_durations_agree_with_the_clocks_and_order_does_not_matter(
        data: CaseSet) -> None:
    cases, histories, breaches, surveys = data
    times = [business_times(case, histories.get(case.id, []), ALWAYS, NOW) for case in cases]
    first = sorted(t[0] for t in times if t[0] is not None)
    resolution = sorted(t[1] for t in times if t[1] is not None)

    [figures] = case_figures(cases, histories, breaches, surveys, ALWAYS, NOW)

    assert figures.first_response_mean == exact_mean(first)
    assert figures.resolution_mean == exact_mean(resolution)
    if first:
        assert first[0] <= figures.first_response_median <= first[-1]  # type: ignore[operator]
    if resolution:
        middle = resolution[(len(resolution) - 1) // 2: len(resolution) // 2 + 1]
        assert figures.resolution_median == sum(middle, timedelta(0)) / len(middle)
    shuffled = random.Random(len(cases)).sample(cases, len(cases))
    assert case_figures(shuffled, histories, breaches[::-1], surveys[::-1], ALWAYS,
                        NOW) == [figures]


# -- rankings ----------------------------------------------------------------------------


def test_top_categories_of_complaints_and_of_everything() -> None:
    cases = CASES + [a_case("c5", category="late"), a_case("c6", category="broken"),
                     a_case("c7", category="late", type=CaseType.RETURN)]

    assert top_categories(cases) == [("late", 2), ("broken", 1), ("damaged", 1)]
    assert top_categories(cases, type=None) == [("late", 3), ("damaged", 2), ("broken", 1)]
    assert top_categories(cases, type="return") == [("late", 1)]
    assert top_categories(cases, limit=1) == [("late", 2)]
    assert top_categories([]) == []


def test_repeat_complainers_most_first() -> None:
    cases = CASES + [a_case("c5", customer_id="u2"), a_case("c6", customer_id="u3"),
                     a_case("c7", customer_id="u3"),
                     a_case("c8", customer_id="u3", type=CaseType.RETURN)]

    assert repeat_complainers(cases) == [("u1", 3), ("u3", 2)]
    assert repeat_complainers(cases, at_least=1) == [("u1", 3), ("u3", 2), ("u2", 1)]
    assert repeat_complainers(cases, at_least=4) == []


# -- refusals ----------------------------------------------------------------------------


def bad(value: object) -> Any:
    """``value``, passed where the types say it may not go."""
    return value


@pytest.mark.parametrize(("call", "field"), [
    (lambda: case_figures(CASES, HISTORIES, [], [], ALWAYS, NOW, by="store"), "by"),
    (lambda: case_figures(CASES + CASES[:1], HISTORIES, [], [], ALWAYS, NOW), "cases"),
    (lambda: case_figures(bad([{"id": "c1"}]), HISTORIES, [], [], ALWAYS, NOW), "cases"),
    (lambda: case_figures(CASES, bad([HISTORIES["c1"]]), [], [], ALWAYS, NOW), "histories"),
    (lambda: case_figures(CASES, bad({"c1": ["opened"]}), [], [], ALWAYS, NOW), "histories"),
    (lambda: case_figures(CASES, HISTORIES, bad([("c1", FR)]), [], ALWAYS, NOW), "breaches"),
    (lambda: case_figures(CASES, HISTORIES, [], bad(["c1"]), ALWAYS, NOW), "surveys"),
    (lambda: case_figures(CASES, HISTORIES, [], [], bad(None), NOW), "policy"),
    (lambda: case_figures(CASES, HISTORIES, [], [], ALWAYS, NOW.replace(tzinfo=None)), "now"),
    (lambda: top_categories(CASES, limit=0), "limit"),
    (lambda: top_categories(CASES, type="praise"), "type"),
    (lambda: top_categories(bad("c1")), "cases"),
    (lambda: repeat_complainers(CASES, at_least=0), "at_least"),
    (lambda: repeat_complainers(CASES, at_least=bad(True)), "at_least"),
])
def test_bad_arguments_are_named(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        call()  # type: ignore[operator]
    assert error.value.field == field
