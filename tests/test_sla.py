"""SLA policies and case clocks: readings agree with a minute-by-minute walk over random
calendars and status histories; examples across weekends, Japanese holidays, pending periods
and reopening; target choice; every refusal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from ecrm.domain.business_hours import BusinessCalendar
from ecrm.domain.cases import (
    Case,
    CaseStatus,
    CaseType,
    Priority,
    SLAMetric,
    StatusChange,
    SurveyKind,
)
from ecrm.domain.sla import (
    CaseSLA,
    ClockReading,
    SLATarget,
    SupportPolicy,
    business_times,
    due_breaches,
    measure,
    stopped_spans,
)
from ecrm.errors import ValidationError
from tests.test_business_hours import Reference, calendars

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
TOKYO = ZoneInfo("Asia/Tokyo")
#: The statuses in which the clocks run (written out again, not imported, for the reference).
RUNNING = (CaseStatus.NEW, CaseStatus.OPEN)
#: The Japanese public holidays of 2026 the examples cross (Coming of Age Day, Showa Day,
#: Golden Week with the substitute holiday for Constitution Day, Silver Week).
JAPANESE_HOLIDAYS_2026 = [date(2026, 1, 1), date(2026, 1, 12), date(2026, 4, 29),
                          date(2026, 5, 4), date(2026, 5, 5), date(2026, 5, 6),
                          date(2026, 9, 21), date(2026, 9, 22), date(2026, 9, 23)]
TOKYO_OFFICE = BusinessCalendar.weekdays(opens=time(9), closes=time(18), timezone="Asia/Tokyo",
                                         holidays=JAPANESE_HOLIDAYS_2026)


def tokyo(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall time in Tokyo in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=TOKYO)


def a_case(opened_at: datetime, *, status: CaseStatus = CaseStatus.NEW, case_id: str = "c1",
           **changes: Any) -> Case:
    """A normal-priority complaint opened at ``opened_at``."""
    case = Case(id=case_id, customer_id="u1", type=CaseType.COMPLAINT, subject="Broken cup",
                priority=Priority.NORMAL, status=status, channel="email", opened_at=opened_at,
                updated_at=opened_at)
    return attrs.evolve(case, **changes)


def story(opened_at: datetime, *steps: tuple[datetime, CaseStatus],
          case_id: str = "c1") -> list[StatusChange]:
    """A history: opened new at ``opened_at``, then each ``(at, status)``."""
    history = [StatusChange(case_id, 1, opened_at, None, CaseStatus.NEW)]
    for at, status in steps:
        history.append(StatusChange(case_id, len(history) + 1, at, history[-1].new, status))
    return history


def policy(first_response: timedelta | None = None, resolution: timedelta | None = None,
           calendar: BusinessCalendar = TOKYO_OFFICE) -> SupportPolicy:
    """A policy with one default target."""
    return SupportPolicy(calendar=calendar, targets=[SLATarget(first_response=first_response,
                                                               resolution=resolution)])


def same_instant(first: datetime | None, second: datetime | None) -> bool:
    """Equal as UTC instants (an aware time in a DST fold never equals another zone's)."""
    if first is None or second is None:
        return first is second
    return first.astimezone(UTC) == second.astimezone(UTC)


# -- the reference: one minute at a time ------------------------------------------------


class ReferenceClocks:
    """Counts each UTC minute on its own: open in the calendar, after the opening, before
    the end of the clock, in a running status by the history's last change up to it."""

    def __init__(self, calendar: BusinessCalendar, case: Case,
                 history: Sequence[StatusChange], now: datetime) -> None:
        self.open = Reference(calendar).is_open
        self.opened = case.opened_at.astimezone(UTC)
        self.now = now
        self.steps: list[tuple[datetime, CaseStatus]] = []
        for change in sorted(history, key=lambda c: c.seq):
            at = change.at.astimezone(UTC)
            self.steps.append((max([at] + [s[0] for s in self.steps]), change.new))
        responded = case.first_response_at
        self.responded = (responded.astimezone(UTC)
                          if responded is not None and responded <= now else None)

    def status(self, instant: datetime) -> CaseStatus:
        """The status by the last change at or before ``instant`` (new before any)."""
        status = CaseStatus.NEW
        for at, new in self.steps:
            if at <= instant:
                status = new
        return status

    def end(self, metric: SLAMetric) -> datetime:
        """Where the clock stops counting."""
        if metric is SLAMetric.FIRST_RESPONSE and self.responded is not None:
            return self.responded
        return self.now

    def counted(self, metric: SLAMetric) -> list[datetime]:
        """The minutes the clock counted."""
        minutes, instant = [], self.opened
        while instant < self.end(metric):
            if self.open(instant) and self.status(instant) in RUNNING:
                minutes.append(instant)
            instant += MINUTE
        return minutes

    def running(self, metric: SLAMetric) -> bool:
        """Whether the clock runs at ``now``."""
        if metric is SLAMetric.FIRST_RESPONSE and self.responded is not None:
            return False
        return self.status(self.now) in RUNNING

    def projected_due(self, minutes_left: int, horizon: timedelta) -> datetime | None:
        """The end of the ``minutes_left``-th open minute from now, within ``horizon``."""
        instant = max(self.now, self.opened)
        while instant < self.now + horizon:
            if self.open(instant):
                minutes_left -= 1
                if not minutes_left:
                    return instant + MINUTE
            instant += MINUTE
        return None


MINUTES = st.integers


@st.composite
def case_stories(draw: st.DrawFn) -> tuple[SupportPolicy, Case, list[StatusChange], datetime]:
    """A policy with a random calendar, a case with a random history at whole minutes
    (any status may follow any, stamps may go back a little), and a moment to read it."""
    calendar, base = draw(calendars())
    assume(any(calendar.hours))
    opened = base + draw(MINUTES(-2 * 1440, 2 * 1440)) * MINUTE
    at = opened + draw(st.one_of(st.just(0), MINUTES(0, 120))) * MINUTE
    history = [StatusChange("c1", 1, at, None, draw(st.sampled_from(
        [CaseStatus.NEW, CaseStatus.OPEN, CaseStatus.PENDING])))]
    for seq in range(2, draw(MINUTES(1, 8)) + 1):
        at += draw(st.one_of(MINUTES(0, 900), MINUTES(-30, 0))) * MINUTE
        zone = draw(st.sampled_from([UTC, TOKYO, ZoneInfo("America/New_York")]))
        history.append(StatusChange("c1", seq, at.astimezone(zone), history[-1].new,
                                    draw(st.sampled_from(list(CaseStatus)))))
    now = opened + draw(MINUTES(-60, 3 * 1440)) * MINUTE
    responded = draw(st.none() | MINUTES(0, 3 * 1440 + 60).map(lambda m: opened + m * MINUTE))
    case = a_case(opened.astimezone(TOKYO), status=history[-1].new,
                  first_response_at=responded)
    durations = st.one_of(MINUTES(1, 120), MINUTES(1, 1500))
    target = SLATarget(first_response=draw(durations) * MINUTE,
                       resolution=draw(durations) * MINUTE)
    shuffled = draw(st.permutations(history))
    return SupportPolicy(calendar=calendar, targets=[target]), case, shuffled, now


HORIZON = 8 * DAY


def check_reading(reading: ClockReading, reference: ReferenceClocks,
                  decided: bool) -> None:
    """``reading`` says what the minute walk says."""
    counted = reference.counted(reading.metric)
    target = reading.target // MINUTE
    event(f"{reading.metric.value}: " + ("over" if len(counted) > target else "running"
                                         if reading.running else "stopped"))
    assert reading.elapsed == len(counted) * MINUTE
    assert reading.remaining == reading.target - reading.elapsed
    assert reading.running == reference.running(reading.metric)
    assert reading.breached == (len(counted) > target)
    assert reading.met == (False if len(counted) > target else True if decided else None)
    if len(counted) >= target:
        assert same_instant(reading.due_at, counted[target - 1] + MINUTE)
    elif reading.running:
        expected = reference.projected_due(target - len(counted), HORIZON)
        assert (same_instant(reading.due_at, expected) if expected is not None
                else reading.due_at is None
                or reading.due_at.astimezone(UTC) > reference.now + HORIZON)
    else:
        assert reading.due_at is None


@given(story=case_stories())
def test_clocks_agree_with_a_minute_by_minute_walk(
        story: tuple[SupportPolicy, Case, list[StatusChange], datetime]) -> None:
    support, case, history, now = story
    reference = ReferenceClocks(support.calendar, case, history, now)

    sla = measure(case, history, support, now)

    assert sla.case_id == case.id
    assert sla.first_response is not None and sla.resolution is not None
    check_reading(sla.first_response, reference, decided=reference.responded is not None)
    check_reading(sla.resolution, reference,
                  decided=reference.status(now) in (CaseStatus.RESOLVED, CaseStatus.CLOSED))
    assert due_breaches(case, history, support, now) == [
        (reading.metric, reading.due_at) for reading in (sla.first_response, sla.resolution)
        if reading.breached]


@given(story=case_stories())
def test_stopped_spans_cover_exactly_the_stopped_minutes(
        story: tuple[SupportPolicy, Case, list[StatusChange], datetime]) -> None:
    _, case, history, now = story
    reference = ReferenceClocks(BusinessCalendar.always(), case, history, now)
    first = min(change.at for change in history).astimezone(UTC)

    spans = stopped_spans(history, now)

    assert all(start < end <= now and start.tzinfo == UTC for start, end in spans)
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    instant = first - 60 * MINUTE
    while instant < now:
        inside = any(start <= instant < end for start, end in spans)
        assert inside == (reference.status(instant) not in RUNNING), instant
        instant += MINUTE


@given(story=case_stories())
def test_business_times_are_the_elapsed_times_of_decided_clocks(
        story: tuple[SupportPolicy, Case, list[StatusChange], datetime]) -> None:
    support, case, history, now = story

    reference = ReferenceClocks(support.calendar, case, history, now)

    sla = measure(case, history, support, now)
    first, resolution = business_times(case, history, support, now)

    assert sla.first_response is not None and sla.resolution is not None
    assert first == (sla.first_response.elapsed if reference.responded is not None else None)
    done = reference.status(now) in (CaseStatus.RESOLVED, CaseStatus.CLOSED)
    assert resolution == (sla.resolution.elapsed if done else None)


# -- examples: weekends and Japanese holidays -------------------------------------------


def test_a_first_response_across_a_weekend_and_a_holiday_is_met() -> None:
    opened = tokyo(1, 9, 17)  # a Friday; Monday the 12th is Coming of Age Day
    case = a_case(opened, status=CaseStatus.OPEN, first_response_at=tokyo(1, 13, 10))
    history = story(opened, (tokyo(1, 13, 10), CaseStatus.OPEN))

    reading = measure(case, history, policy(first_response=4 * HOUR), tokyo(1, 14)).first_response

    assert reading == ClockReading(metric=SLAMetric.FIRST_RESPONSE, target=4 * HOUR,
                                   elapsed=2 * HOUR, remaining=2 * HOUR, due_at=None,
                                   running=False, met=True, breached=False)


def test_while_waiting_the_due_time_skips_closed_days() -> None:
    opened = tokyo(1, 9, 17)
    case = a_case(opened)

    reading = measure(case, story(opened), policy(first_response=4 * HOUR),
                      tokyo(1, 12, 15)).first_response

    assert reading is not None
    assert (reading.elapsed, reading.remaining, reading.running, reading.met) == (
        HOUR, 3 * HOUR, True, None)
    assert reading.due_at == tokyo(1, 13, 12) and reading.due_at.tzinfo == TOKYO


def test_golden_week_holds_the_resolution_clock_until_it_is_missed() -> None:
    opened = tokyo(5, 1, 16)  # Friday; Monday to Wednesday are holidays
    case = a_case(opened, status=CaseStatus.OPEN, first_response_at=tokyo(5, 1, 16, 30))
    history = story(opened, (tokyo(5, 1, 16, 30), CaseStatus.OPEN))
    support = policy(first_response=HOUR, resolution=8 * HOUR)

    before = measure(case, history, support, tokyo(5, 6, 23)).resolution
    after = measure(case, history, support, tokyo(5, 7, 16))

    assert before is not None and before.elapsed == 2 * HOUR
    assert before.due_at == tokyo(5, 7, 15) and not before.breached
    assert after.resolution is not None and after.first_response is not None
    assert after.resolution.breached and after.resolution.met is False
    assert after.resolution.remaining == -HOUR and after.resolution.due_at == tokyo(5, 7, 15)
    assert after.first_response.met is True
    assert due_breaches(case, history, support, tokyo(5, 7, 16)) == [
        (SLAMetric.RESOLUTION, tokyo(5, 7, 15))]


# -- examples: pending, resolving, reopening ---------------------------------------------


MONDAY = tokyo(1, 19, 10)  # an ordinary week: 19th to 23rd of January


def pending_then_resolved() -> tuple[Case, list[StatusChange]]:
    """Opened Monday 10:00, answered 10:30 and pending from 11:00 until the customer wrote
    on Wednesday 10:00, resolved Wednesday 12:00."""
    history = story(MONDAY, (tokyo(1, 19, 10, 30), CaseStatus.OPEN),
                    (tokyo(1, 19, 11), CaseStatus.PENDING), (tokyo(1, 21, 10), CaseStatus.OPEN),
                    (tokyo(1, 21, 12), CaseStatus.RESOLVED))
    case = a_case(MONDAY, status=CaseStatus.RESOLVED, first_response_at=tokyo(1, 19, 10, 30),
                  resolved_at=tokyo(1, 21, 12))
    return case, history


def test_pending_time_does_not_count() -> None:
    case, history = pending_then_resolved()
    support = policy(first_response=HOUR, resolution=4 * HOUR)

    sla = measure(case, history, support, tokyo(1, 22, 9))

    assert sla.resolution is not None and sla.first_response is not None
    assert sla.first_response.elapsed == 30 * MINUTE and sla.first_response.met is True
    assert sla.resolution.elapsed == 3 * HOUR and sla.resolution.met is True
    assert not sla.resolution.running and sla.resolution.due_at is None
    assert stopped_spans(history, tokyo(1, 22, 9)) == [
        (tokyo(1, 19, 11).astimezone(UTC), tokyo(1, 21, 10).astimezone(UTC)),
        (tokyo(1, 21, 12).astimezone(UTC), tokyo(1, 22, 9).astimezone(UTC))]
    assert business_times(case, history, support, tokyo(1, 22, 9)) == (30 * MINUTE, 3 * HOUR)


def test_a_reopened_case_runs_again_without_the_time_it_spent_resolved() -> None:
    case, history = pending_then_resolved()
    history = story(MONDAY, *[(c.at, c.new) for c in history[1:]],
                    (tokyo(1, 23, 14), CaseStatus.OPEN))
    case = attrs.evolve(case, status=CaseStatus.OPEN, resolved_at=None, reopen_count=1)

    tight = measure(case, history, policy(resolution=4 * HOUR), tokyo(1, 23, 16)).resolution
    loose = measure(case, history, policy(resolution=8 * HOUR), tokyo(1, 23, 16)).resolution
    before = measure(case, history, policy(resolution=4 * HOUR), tokyo(1, 23, 13)).resolution

    assert before is not None and before.met is True and before.elapsed == 3 * HOUR
    assert tight is not None and tight.elapsed == 5 * HOUR and tight.running
    assert tight.breached and tight.met is False and tight.due_at == tokyo(1, 23, 15)
    assert loose is not None and loose.met is None and loose.remaining == 3 * HOUR
    assert loose.due_at == tokyo(1, 26, 10)  # Friday 16:00 plus three hours


def test_a_closed_case_brought_back_counts_again() -> None:
    opened = tokyo(1, 19, 9)
    history = story(opened, (tokyo(1, 19, 10), CaseStatus.RESOLVED),
                    (tokyo(1, 20, 9), CaseStatus.CLOSED), (tokyo(1, 21, 9), CaseStatus.OPEN))
    case = a_case(opened, status=CaseStatus.OPEN, reopen_count=1)

    reading = measure(case, history, policy(resolution=2 * HOUR), tokyo(1, 21, 10)).resolution

    assert reading is not None and reading.elapsed == 2 * HOUR and reading.met is None
    assert reading.due_at == tokyo(1, 21, 10) and not reading.breached


def test_a_late_first_response_is_a_breach_with_its_due_time() -> None:
    opened = tokyo(1, 19, 9)
    case = a_case(opened, status=CaseStatus.OPEN, first_response_at=tokyo(1, 19, 15))
    history = story(opened, (tokyo(1, 19, 15), CaseStatus.OPEN))

    reading = measure(case, history, policy(first_response=2 * HOUR), tokyo(1, 20)).first_response

    assert reading is not None and reading.breached and reading.met is False
    assert not reading.running and reading.remaining == -4 * HOUR
    assert due_breaches(case, history, policy(first_response=2 * HOUR), tokyo(1, 20)) == [
        (SLAMetric.FIRST_RESPONSE, tokyo(1, 19, 11))]


def test_a_case_resolved_without_a_reply_leaves_the_first_response_undecided() -> None:
    opened = tokyo(1, 19, 9)
    case = a_case(opened, status=CaseStatus.RESOLVED, resolved_at=tokyo(1, 19, 10))
    history = story(opened, (tokyo(1, 19, 10), CaseStatus.RESOLVED))

    sla = measure(case, history, policy(HOUR * 2, HOUR * 2), tokyo(1, 30))

    assert sla.first_response is not None and sla.resolution is not None
    assert (sla.first_response.met, sla.first_response.running) == (None, False)
    assert sla.first_response.elapsed == HOUR and sla.first_response.due_at is None
    assert sla.resolution.met is True
    assert due_breaches(case, history, policy(HOUR * 2, HOUR * 2), tokyo(1, 30)) == []


def test_reaching_the_target_exactly_is_met_not_breached() -> None:
    opened = tokyo(1, 19, 9)
    case = a_case(opened, status=CaseStatus.OPEN, first_response_at=tokyo(1, 19, 11))

    reading = measure(case, story(opened), policy(first_response=2 * HOUR),
                      tokyo(1, 20)).first_response

    assert reading is not None and reading.met is True and not reading.breached
    assert reading.remaining == timedelta(0) and reading.due_at == tokyo(1, 19, 11)


def test_a_case_opened_pending_runs_no_clock() -> None:
    opened = tokyo(1, 19, 9)
    history = [StatusChange("c1", 1, opened, None, CaseStatus.PENDING)]
    case = a_case(opened, status=CaseStatus.PENDING)

    sla = measure(case, history, policy(HOUR, HOUR), tokyo(1, 23))

    assert sla.first_response is not None and sla.first_response.elapsed == timedelta(0)
    assert not sla.first_response.running and sla.first_response.due_at is None


def test_history_is_read_by_seq_and_as_of_now() -> None:
    opened = tokyo(1, 19, 9)
    history = story(opened, (tokyo(1, 19, 10), CaseStatus.PENDING),
                    (tokyo(1, 19, 9, 30), CaseStatus.OPEN),  # stamped early: counts from 10:00
                    (tokyo(1, 19, 14), CaseStatus.RESOLVED))

    spans = stopped_spans(history[::-1], tokyo(1, 19, 12))

    assert spans == []  # pending for no time, then open; the resolution is still ahead
    reading = measure(a_case(opened), history, policy(resolution=8 * HOUR),
                      tokyo(1, 19, 12)).resolution
    assert reading is not None and reading.elapsed == 3 * HOUR and reading.running


def test_without_a_history_the_case_fields_stand_in() -> None:
    opened = tokyo(1, 19, 9)
    resolved = a_case(opened, status=CaseStatus.RESOLVED, resolved_at=tokyo(1, 19, 12),
                      updated_at=tokyo(1, 19, 12))

    sla = measure(resolved, [], policy(resolution=8 * HOUR), tokyo(1, 21))
    open_sla = measure(a_case(opened), [], policy(resolution=8 * HOUR), tokyo(1, 19, 13))

    assert sla.resolution is not None and sla.resolution.elapsed == 3 * HOUR
    assert sla.resolution.met is True
    assert open_sla.resolution is not None and open_sla.resolution.elapsed == 4 * HOUR


def test_the_always_open_default_counts_elapsed_time_and_no_target_no_clock() -> None:
    opened = datetime(2026, 1, 3, 22, tzinfo=UTC)  # a Saturday night
    support = SupportPolicy(targets=[SLATarget(resolution=DAY)])

    sla = measure(a_case(opened), story(opened), support, opened + 30 * HOUR)

    assert sla == CaseSLA(case_id="c1", first_response=None, resolution=ClockReading(
        metric=SLAMetric.RESOLUTION, target=DAY, elapsed=30 * HOUR, remaining=-6 * HOUR,
        due_at=opened + DAY, running=True, met=False, breached=True))
    assert measure(a_case(opened), story(opened), SupportPolicy(), opened + DAY) == CaseSLA(
        "c1", None, None)
    assert due_breaches(a_case(opened), story(opened), SupportPolicy(), opened + DAY) == []


def test_the_due_time_is_in_the_calendars_zone() -> None:
    opened = datetime(2026, 1, 19, 0, tzinfo=UTC)  # 09:00 in Tokyo
    sla = measure(a_case(opened), story(opened), policy(first_response=HOUR),
                  datetime(2026, 1, 19, 3, tzinfo=UTC))

    assert sla.first_response is not None
    assert str(sla.first_response.due_at) == "2026-01-19 10:00:00+09:00"


# -- targets -----------------------------------------------------------------------------


def test_the_most_specific_target_wins() -> None:
    default = SLATarget(first_response=DAY)
    urgent = SLATarget(first_response=HOUR, priority="urgent")
    complaints = SLATarget(first_response=4 * HOUR, type=CaseType.COMPLAINT)
    urgent_returns = SLATarget(first_response=30 * MINUTE, priority=Priority.URGENT,
                               type="return")
    support = SupportPolicy(targets=[default, complaints, urgent_returns, urgent])
    opened = tokyo(1, 19)

    def target(type: CaseType, priority: Priority) -> SLATarget | None:
        return support.target_for(a_case(opened, type=type, priority=priority))

    assert target(CaseType.RETURN, Priority.URGENT) is urgent_returns
    assert target(CaseType.COMPLAINT, Priority.URGENT) is urgent
    assert target(CaseType.COMPLAINT, Priority.LOW) is complaints
    assert target(CaseType.INQUIRY, Priority.LOW) is default
    assert SupportPolicy(targets=[urgent]).target_for(a_case(opened)) is None
    assert urgent.priority is Priority.URGENT and urgent_returns.type is CaseType.RETURN


def test_a_specific_target_replaces_the_default_whole() -> None:
    support = SupportPolicy(targets=[SLATarget(first_response=HOUR, resolution=DAY),
                                     SLATarget(resolution=7 * DAY, priority="low")])
    opened = tokyo(1, 19)

    sla = measure(a_case(opened, priority=Priority.LOW), story(opened), support, tokyo(1, 20))

    assert sla.first_response is None and sla.resolution is not None
    assert sla.resolution.target == 7 * DAY


def test_policy_defaults() -> None:
    support = SupportPolicy()

    assert support.calendar == BusinessCalendar.always() and support.targets == ()
    assert support.reopen_window == timedelta(days=7)
    assert support.closed_case_messages == "reject" and support.survey is SurveyKind.CSAT
    assert SupportPolicy(survey=None, closed_case_messages="reopen",
                         reopen_window=timedelta(0), targets=(SLATarget(),)).survey is None
    assert SupportPolicy(survey="nps").survey is SurveyKind.NPS
    assert hash(support) == hash(SupportPolicy())


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"first_response": timedelta(0)}, "first_response"),
    ({"first_response": -HOUR}, "first_response"),
    ({"first_response": 3600}, "first_response"),
    ({"resolution": timedelta(0)}, "resolution"),
    ({"resolution": "1 day"}, "resolution"),
    ({"priority": "asap"}, "priority"),
    ({"type": "praise"}, "type"),
])
def test_a_bad_target_cannot_be_made(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as error:
        SLATarget(**kwargs)  # type: ignore[arg-type]
    assert error.value.field == field


@pytest.mark.parametrize(("kwargs", "field", "words"), [
    ({"calendar": "Asia/Tokyo"}, "calendar", "BusinessCalendar"),
    ({"calendar": BusinessCalendar(timezone="UTC", hours={})}, "calendar", "no opening hours"),
    ({"targets": [SLATarget(), SLATarget(resolution=DAY)]}, "targets[1]", "defined twice"),
    ({"targets": [SLATarget(priority="high", type="return"),
                  SLATarget(priority="high"),
                  SLATarget(type="return", priority="high", resolution=DAY)]},
     "targets[2]", "type=return and priority=high is defined twice"),
    ({"targets": [{"first_response": HOUR}]}, "targets[0]", "SLATarget"),
    ({"targets": SLATarget()}, "targets", "SLATarget"),
    ({"reopen_window": -DAY}, "reopen_window", ">= 0"),
    ({"reopen_window": 7}, "reopen_window", "timedelta"),
    ({"closed_case_messages": "ignore"}, "closed_case_messages", "'reject' or 'reopen'"),
    ({"closed_case_messages": None}, "closed_case_messages", "'reject' or 'reopen'"),
    ({"survey": "ces"}, "survey", "'csat', 'nps'"),
])
def test_a_bad_policy_cannot_be_made(kwargs: dict[str, object], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as error:
        SupportPolicy(**kwargs)  # type: ignore[arg-type]
    assert error.value.field == field
    assert words in str(error.value)


OPENED = tokyo(1, 19, 9)
NOW = tokyo(1, 20)


def bad(value: object) -> Any:
    """``value``, passed where the types say it may not go."""
    return value


@pytest.mark.parametrize(("call", "field"), [
    (lambda: measure(a_case(OPENED), story(OPENED), policy(HOUR), NOW.replace(tzinfo=None)),
     "now"),
    (lambda: measure(a_case(OPENED), story(OPENED, case_id="c2"), policy(HOUR), NOW),
     "history"),
    (lambda: measure(a_case(OPENED), bad([("c1", 1)]), policy(HOUR), NOW), "history"),
    (lambda: measure(a_case(OPENED), bad("new"), policy(HOUR), NOW), "history"),
    (lambda: measure(a_case(OPENED), [attrs.evolve(story(OPENED)[0], new=bad("gone"))],
                     policy(HOUR), NOW), "history"),
    (lambda: measure(a_case(OPENED), [attrs.evolve(story(OPENED)[0],
                                                   at=OPENED.replace(tzinfo=None))],
                     policy(HOUR), NOW), "history"),
    (lambda: measure(a_case(OPENED.replace(tzinfo=None)), [], policy(HOUR), NOW),
     "opened_at"),
    (lambda: measure(a_case(OPENED, first_response_at=datetime(2026, 1, 19)), [],
                     policy(HOUR), NOW), "first_response_at"),
    (lambda: measure(bad({"id": "c1"}), [], policy(HOUR), NOW), "case"),
    (lambda: measure(a_case(OPENED), [], bad({"first_response": HOUR}), NOW), "policy"),
    (lambda: due_breaches(a_case(OPENED), [], policy(HOUR), bad("now")), "now"),
    (lambda: stopped_spans(story(OPENED), datetime(2026, 1, 20)), "now"),
    (lambda: business_times(a_case(OPENED), [], bad(None), NOW), "policy"),
    (lambda: SupportPolicy().target_for(bad("c1")), "case"),
])
def test_bad_arguments_are_named(call: object, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        call()  # type: ignore[operator]
    assert error.value.field == field
