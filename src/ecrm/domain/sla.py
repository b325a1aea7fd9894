"""Support SLAs: a shop's support policy (business hours, targets per case type and priority,
reopening rules, surveys) and the two clocks of a case, read at a given moment.

The clocks
----------
A case has two clocks, *first response* and *resolution*. Both start at ``case.opened_at``
and count business time only: the open time of the policy's calendar, and only while the
case's status is ``new`` or ``open``. They stop while the case is ``pending`` (waiting on
the customer), ``resolved`` or ``closed``; a reopened case's clocks run again, and the time
it spent stopped does not count.

- The first-response clock stops for good at ``case.first_response_at`` (the first reply);
  a case resolved without a reply keeps it stopped, undecided.
- The resolution clock counts up to ``now`` while the case is new or open. Resolving or
  closing decides it; reopening makes it undecided again.

The statuses come from the case's history (:class:`~ecrm.domain.cases.StatusChange`, by
``seq``), read as of ``now``: see :func:`stopped_spans`. A target is breached once the
business time counted exceeds it; its due instant is the moment it was reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
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
from ecrm.errors import ValidationError

#: The statuses in which a case's clocks run.
RUNNING = frozenset({CaseStatus.NEW, CaseStatus.OPEN})
#: The statuses that decide the resolution clock.
DONE = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
#: What a customer message may do to a closed case (or a resolved one beyond the window).
CLOSED_CASE_MESSAGES = ("reject", "reopen")

#: A span of time ``(start, end)``, half open.
Span = tuple[datetime, datetime]


# -- policy ----------------------------------------------------------------------------------


def _target_duration(field: str, value: object) -> timedelta | None:
    if value is None:
        return None
    if not isinstance(value, timedelta):
        raise ValidationError(field, f"expected a timedelta, got {type(value).__name__}")
    if value <= timedelta(0):
        raise ValidationError(field, f"must be longer than zero, got {value}")
    return value


def _first_response(value: object) -> timedelta | None:
    return _target_duration("first_response", value)


def _resolution(value: object) -> timedelta | None:
    return _target_duration("resolution", value)


_to_priority = check.choice(Priority, "priority")
_to_type = check.choice(CaseType, "type")
_to_survey = check.choice(SurveyKind, "survey")


def _priority(value: object) -> Priority | None:
    return None if value is None else _to_priority(value)


def _type(value: object) -> CaseType | None:
    return None if value is None else _to_type(value)


def _survey(value: object) -> SurveyKind | None:
    return None if value is None else _to_survey(value)


@attrs.frozen
class SLATarget:
    """How much business time a case may take to its first response and to its resolution.

    ``priority`` and ``type`` say which cases the target is for; None matches any. A target
    with neither is the default. A duration left None sets no target for that clock (so a
    specific target can switch a clock off that the default sets: targets do not merge).
    """

    first_response: timedelta | None = attrs.field(default=None, converter=_first_response)
    resolution: timedelta | None = attrs.field(default=None, converter=_resolution)
    priority: Priority | None = attrs.field(default=None, converter=_priority)
    type: CaseType | None = attrs.field(default=None, converter=_type)

    @property
    def specificity(self) -> int:
        """3 for type and priority, 2 for priority only, 1 for type only, 0 for neither."""
        return (2 if self.priority is not None else 0) + (1 if self.type is not None else 0)

    def matches(self, case: Case) -> bool:
        """Whether the target is for ``case`` (its type and priority, where set, agree)."""
        return (self.priority in (None, case.priority)) and (self.type in (None, case.type))

    def duration(self, metric: SLAMetric) -> timedelta | None:
        """The target for one clock."""
        return self.first_response if metric is SLAMetric.FIRST_RESPONSE else self.resolution


def _target_text(target: SLATarget) -> str:
    parts = [f"type={target.type.value}" if target.type else "",
             f"priority={target.priority.value}" if target.priority else ""]
    return " and ".join(part for part in parts if part) or "the default (no type or priority)"


def _targets(value: object) -> tuple[SLATarget, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("targets", f"expected SLATarget objects, got {value!r}")
    targets = tuple(value)
    seen: set[tuple[object, object]] = set()
    for index, target in enumerate(targets):
        if not isinstance(target, SLATarget):
            raise ValidationError(f"targets[{index}]", f"expected an SLATarget, got {target!r}")
        key = (target.type, target.priority)
        if key in seen:
            raise ValidationError(f"targets[{index}]",
                                  f"the target for {_target_text(target)} is defined twice")
        seen.add(key)
    return targets


def _calendar(value: object) -> BusinessCalendar:
    if not isinstance(value, BusinessCalendar):
        raise ValidationError("calendar", f"expected a BusinessCalendar, got {value!r}")
    if not any(value.hours):
        raise ValidationError("calendar", "has no opening hours, so no clock could ever run")
    return value


def _reopen_window(value: object) -> timedelta:
    if not isinstance(value, timedelta) or value < timedelta(0):
        raise ValidationError("reopen_window", f"must be a timedelta >= 0, got {value!r}")
    return value


def _closed_case_messages(value: object) -> str:
    if value not in CLOSED_CASE_MESSAGES:
        raise ValidationError("closed_case_messages",
                              f"must be 'reject' or 'reopen', got {value!r}")
    assert isinstance(value, str)
    return value


def _case(value: object) -> Case:
    if not isinstance(value, Case):
        raise ValidationError("case", f"expected a Case, got {value!r}")
    return value


@attrs.frozen
class SupportPolicy:
    """A shop's support settings.

    :param calendar: the business hours the SLA clocks count (default: always open).
    :param targets: :class:`SLATarget` objects; :meth:`target_for` picks a case's. At most
        one per combination of type and priority.
    :param reopen_window: a customer message within this time after a case was resolved
        reopens it (zero: never by the window).
    :param closed_case_messages: ``"reject"`` or ``"reopen"``: what a customer message does
        to a closed case, or to a resolved case beyond the window.
    :param survey: the survey a resolution requests (None: none).
    """

    calendar: BusinessCalendar = attrs.field(factory=BusinessCalendar.always,
                                             converter=_calendar)
    targets: tuple[SLATarget, ...] = attrs.field(default=(), converter=_targets)
    reopen_window: timedelta = attrs.field(default=timedelta(days=7), converter=_reopen_window)
    closed_case_messages: str = attrs.field(default="reject", converter=_closed_case_messages)
    survey: SurveyKind | None = attrs.field(default=SurveyKind.CSAT, converter=_survey)

    def target_for(self, case: Case) -> SLATarget | None:
        """The most specific target matching ``case``: type and priority both match, then
        priority only, then type only, then the default; None when none matches."""
        _case(case)
        matching = [target for target in self.targets if target.matches(case)]
        return max(matching, key=lambda target: target.specificity, default=None)


# -- the clocks ------------------------------------------------------------------------------


def _now(value: object) -> datetime:
    moment = check.aware("now", value)
    assert moment is not None
    return moment


_status = check.choice(CaseStatus, "history")


def _ordered(history: Iterable[StatusChange]) -> list[StatusChange]:
    if isinstance(history, (str, bytes)) or not isinstance(history, Iterable):
        raise ValidationError("history", f"expected StatusChange objects, got {history!r}")
    changes = list(history)
    for change in changes:
        if not isinstance(change, StatusChange):
            raise ValidationError("history", f"expected StatusChange objects, got {change!r}")
    return sorted(changes, key=lambda change: change.seq)


def _steps(history: Iterable[StatusChange], now: datetime) -> list[tuple[datetime, CaseStatus]]:
    """``(effective time, new status)`` of the changes up to ``now``, by ``seq``. A change
    stamped earlier than the one before it counts from that one's time."""
    steps: list[tuple[datetime, CaseStatus]] = []
    for change in _ordered(history):
        at = check.aware("history", change.at)
        assert at is not None
        if steps and at < steps[-1][0]:
            at = steps[-1][0]
        if at > now:
            break
        steps.append((at, _status(change.new)))
    return steps


def _spans(steps: Sequence[tuple[datetime, CaseStatus]], now: datetime) -> list[Span]:
    spans: list[Span] = []
    since: datetime | None = None
    for at, status in steps:
        if status in RUNNING and since is not None:
            spans.append((since, at))
            since = None
        elif status not in RUNNING and since is None:
            since = at
    if since is not None:
        spans.append((since, now))
    merged: list[Span] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], end)  # back to work and stopped at one instant
        elif start < end:
            merged.append((start, end))
    return merged


def stopped_spans(history: Iterable[StatusChange], now: datetime) -> list[Span]:
    """The spans, as UTC ``(start, end)`` pairs in order, in which a case's clocks were
    stopped up to ``now``: from each change to pending, resolved or closed until the next
    change back to new or open, or until ``now``.

    ``history`` is read by ``seq``; changes after ``now`` are ignored, and one stamped
    earlier than the change before it counts from that change's time. Before its first
    change a case counts as new (running). Empty spans are left out."""
    now = _now(now)
    return _spans(_steps(history, now), now)


def _fallback_history(case: Case) -> list[StatusChange]:
    """A history for a case that has none: opened new, then in its current status since
    it was resolved (or closed, or last updated)."""
    opened = StatusChange(case.id, 1, case.opened_at, None, CaseStatus.NEW)
    if case.status in RUNNING:
        return [opened]
    since = (case.resolved_at or case.closed_at) if case.status in DONE else None
    return [opened, StatusChange(case.id, 2, since or case.updated_at, CaseStatus.NEW,
                                 case.status)]


@attrs.frozen
class _Clocks:
    """What both clocks of one case need: where they start, when they stopped, the status
    at ``now`` and the first response (if given by ``now``)."""

    calendar: BusinessCalendar
    start: datetime
    now: datetime
    spans: list[Span]
    status: CaseStatus
    first_response_at: datetime | None

    @classmethod
    def of(cls, case: Case, history: Iterable[StatusChange], calendar: BusinessCalendar,
           now: datetime) -> _Clocks:
        """The clocks of ``case`` as of ``now`` (the history of another case is refused)."""
        _case(case)
        now, changes = _now(now), _ordered(history)
        opened = check.aware("opened_at", case.opened_at)
        responded = check.aware("first_response_at", case.first_response_at, required=False)
        assert opened is not None
        for change in changes:
            if change.case_id != case.id:
                raise ValidationError("history", f"a change of case {change.case_id!r} in "
                                                 f"the history of case {case.id!r}")
        steps = _steps(changes or _fallback_history(case), now)
        return cls(calendar=calendar, start=opened, now=now, spans=_spans(steps, now),
                   status=steps[-1][1] if steps else CaseStatus.NEW,
                   first_response_at=responded if responded and responded <= now else None)

    def elapsed(self, metric: SLAMetric) -> timedelta:
        """The business time the clock has counted."""
        end = self.now
        if metric is SLAMetric.FIRST_RESPONSE and self.first_response_at is not None:
            end = self.first_response_at
        return self.calendar.business_time(self.start, end, paused=self.spans)

    def running(self, metric: SLAMetric) -> bool:
        """Whether the clock runs at ``now``."""
        if metric is SLAMetric.FIRST_RESPONSE and self.first_response_at is not None:
            return False
        return self.status in RUNNING

    def decided(self, metric: SLAMetric) -> bool:
        """Whether the clock has stopped for good: first response given, case resolved or
        closed."""
        if metric is SLAMetric.FIRST_RESPONSE:
            return self.first_response_at is not None
        return self.status in DONE

    def due(self, target: timedelta, elapsed: timedelta, running: bool) -> datetime | None:
        """When the target is or was reached, if it was or the clock runs towards it."""
        if elapsed >= target:
            return self.calendar.add(self.start, target, paused=self.spans)
        if not running:
            return None
        try:
            return self.calendar.add(max(self.now, self.start), target - elapsed)
        except ValidationError:  # not reached within the calendar's 20-year search
            return None

    def reading(self, metric: SLAMetric, target: timedelta) -> ClockReading:
        """The clock against ``target``."""
        elapsed, running = self.elapsed(metric), self.running(metric)
        breached = elapsed > target
        met = False if breached else (True if self.decided(metric) else None)
        return ClockReading(metric=metric, target=target, elapsed=elapsed,
                            remaining=target - elapsed,
                            due_at=self.due(target, elapsed, running), running=running,
                            met=met, breached=breached)


@attrs.frozen
class ClockReading:
    """One clock of a case read at a moment.

    :param metric: which clock.
    :param target: the business time the policy allows.
    :param elapsed: the business time counted so far (see the module's clock rules).
    :param remaining: ``target - elapsed``; negative once over the target.
    :param due_at: the instant the target is or was reached, in the calendar's time zone:
        when ``elapsed >= target`` the instant it was reached; while the clock runs below
        the target the instant it will be reached if it keeps running (None if that is
        more than 20 years out); None while it is stopped below the target.
    :param running: whether the clock runs now (case new or open, and for the first
        response, no reply yet).
    :param met: True when the clock stopped for good (first response given; case resolved
        or closed) within the target, reaching it exactly included; False once over the
        target (it can no longer be met); None while undecided.
    :param breached: ``elapsed > target``.
    """

    metric: SLAMetric
    target: timedelta
    elapsed: timedelta
    remaining: timedelta
    due_at: datetime | None
    running: bool
    met: bool | None
    breached: bool


@attrs.frozen
class CaseSLA:
    """Both clocks of a case; a clock is None when the policy sets no target for it."""

    case_id: str
    first_response: ClockReading | None
    resolution: ClockReading | None

    @property
    def readings(self) -> list[ClockReading]:
        """The clocks that have a target, first response first."""
        return [r for r in (self.first_response, self.resolution) if r is not None]


def _policy(value: object) -> SupportPolicy:
    if not isinstance(value, SupportPolicy):
        raise ValidationError("policy", f"expected a SupportPolicy, got {value!r}")
    return value


def measure(case: Case, history: Iterable[StatusChange], policy: SupportPolicy,
            now: datetime) -> CaseSLA:
    """Read both clocks of ``case`` at ``now`` against its target
    (:meth:`SupportPolicy.target_for`), counting business time in the policy's calendar.

    ``history`` is the case's status changes (by ``seq``); when it is empty the case counts
    as opened new and in its current status since it was resolved, closed or last
    updated. Raises ``ValidationError`` for a naive ``now`` or another case's history."""
    policy = _policy(policy)
    clocks = _Clocks.of(case, history, policy.calendar, now)
    target = policy.target_for(case)
    readings: dict[SLAMetric, ClockReading | None] = {}
    for metric in SLAMetric:
        duration = target.duration(metric) if target is not None else None
        readings[metric] = None if duration is None else clocks.reading(metric, duration)
    return CaseSLA(case_id=case.id, first_response=readings[SLAMetric.FIRST_RESPONSE],
                   resolution=readings[SLAMetric.RESOLUTION])


def due_breaches(case: Case, history: Iterable[StatusChange], policy: SupportPolicy,
                 now: datetime) -> list[tuple[SLAMetric, datetime]]:
    """The metrics whose target ``case`` has missed by ``now`` (still open past it, or
    answered or resolved late), each with the instant the target was reached, first
    response first. The SLA check records each once as an ``SLABreach``."""
    return [(reading.metric, reading.due_at)
            for reading in measure(case, history, policy, now).readings
            if reading.breached and reading.due_at is not None]


def business_times(case: Case, history: Iterable[StatusChange], policy: SupportPolicy,
                   now: datetime) -> tuple[timedelta | None, timedelta | None]:
    """The business time ``case`` took to its first response (None without one by ``now``)
    and to its resolution (None unless resolved or closed at ``now``), by the clock rules
    and whatever the targets."""
    clocks = _Clocks.of(case, history, _policy(policy).calendar, now)
    first = (clocks.elapsed(SLAMetric.FIRST_RESPONSE)
             if clocks.decided(SLAMetric.FIRST_RESPONSE) else None)
    resolution = (clocks.elapsed(SLAMetric.RESOLUTION)
                  if clocks.decided(SLAMetric.RESOLUTION) else None)
    return first, resolution
