"""A Hypothesis state machine for support cases: it opens cases, writes messages, moves
statuses (legal and illegal), lets time pass and runs the SLA check against a backend,
and checks after every step that the backend agrees with a plain-Python model of the
life cycle, that failed calls left no trace, and that every breach is recorded once."""

from __future__ import annotations

import unittest
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone
from typing import Any

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.business_hours import BusinessCalendar
from ecrm.domain.cases import TRANSITIONS, CaseStatus, MessageKind
from ecrm.domain.sla import SLATarget, SupportPolicy
from ecrm.errors import ConflictError

START = datetime(2026, 4, 3, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # a Friday
POLICY = SupportPolicy(
    calendar=BusinessCalendar.weekdays(time(9), time(18), timezone="Asia/Tokyo"),
    targets=(SLATarget(first_response=timedelta(hours=2), resolution=timedelta(hours=6)),
             SLATarget(priority="urgent", first_response=timedelta(minutes=30),
                       resolution=timedelta(hours=2))),
    reopen_window=timedelta(days=1))


@attrs.define
class ModelCase:
    """What the model expects of one case."""

    status: CaseStatus = CaseStatus.NEW
    resolved_at: datetime | None = None
    reopen_count: int = 0
    replied: bool = False
    messages: int = 1
    steps: int = 1
    surveys: int = 0


class CaseMachine(RuleBasedStateMachine):
    """Drives ``crm.cases`` on ``make_backend()`` and a model side by side."""

    make_backend: Callable[[], Backend]
    cases = Bundle("cases")

    @initialize()
    def open_shop(self) -> None:
        self.clock = ManualClock(START)
        self.crm = CRM(self.make_backend(), tenant=f"cm-{uuid.uuid4().hex[:12]}",
                       clock=self.clock, support=POLICY)
        self.customer = self.crm.customers.create(name="alice").id
        self.model: dict[str, ModelCase] = {}
        self.breaches: set[tuple[str, str]] = set()

    @rule(target=cases, priority=st.sampled_from(["normal", "urgent"]))
    def open_case(self, priority: str) -> str:
        case = self.crm.cases.open(self.customer, subject="help", channel="email",
                                   body="壊れていました", priority=priority)
        self.model[case.id] = ModelCase()
        return case.id

    @rule(case_id=cases, kind=st.sampled_from(list(MessageKind)))
    def write(self, case_id: str, kind: MessageKind) -> None:
        expected = self.model[case_id]
        outcome = _after_message(expected, kind, self.clock.now())
        if outcome is None:
            _refused(lambda: self.crm.cases.add_message(case_id, body="…", kind=kind))
            return
        self.crm.cases.add_message(case_id, body="…", kind=kind)
        expected.messages += 1
        expected.replied = expected.replied or kind is MessageKind.REPLY
        if outcome is not expected.status:
            self._moved(expected, outcome)

    @rule(case_id=cases, status=st.sampled_from(list(CaseStatus)))
    def change_status(self, case_id: str, status: CaseStatus) -> None:
        expected = self.model[case_id]
        if status not in TRANSITIONS[expected.status]:
            _refused(lambda: self.crm.cases.change_status(case_id, status))
            return
        self.crm.cases.change_status(case_id, status)
        self._moved(expected, status)

    @rule(minutes=st.one_of(st.integers(1, 120), st.integers(121, 60 * 72)))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @rule()
    def check_sla(self) -> None:
        for breach in self.crm.cases.check_sla():
            key = (breach.case_id, breach.metric.value)
            assert key not in self.breaches, f"breach {key} recorded twice"
            self.breaches.add(key)

    def _moved(self, expected: ModelCase, status: CaseStatus) -> None:
        if status is CaseStatus.RESOLVED:
            expected.resolved_at = self.clock.now()
            expected.surveys += 1
        elif status is CaseStatus.OPEN and expected.status in (CaseStatus.RESOLVED,
                                                               CaseStatus.CLOSED):
            expected.reopen_count += 1
        expected.status = status
        expected.steps += 1

    @invariant()
    def backend_agrees_with_the_model(self) -> None:
        if not hasattr(self, "crm"):
            return
        for case_id, expected in self.model.items():
            case = self.crm.cases.get(case_id)
            assert (case.status, case.reopen_count) == (expected.status,
                                                        expected.reopen_count)
            assert (case.first_response_at is not None) == expected.replied
            history = self.crm.cases.history(case_id)
            assert len(history) == expected.steps
            assert [c.seq for c in history] == list(range(1, expected.steps + 1))
            for step in history[1:]:
                assert step.old is not None
                assert step.new in TRANSITIONS[step.old] or step.new is CaseStatus.OPEN
            assert len(self.crm.cases.messages(case_id)) == expected.messages
            # Nobody answers here, so the first request stays the only one.
            assert len(self.crm.cases.surveys(case_id)) == min(expected.surveys, 1)

    @invariant()
    def breaches_are_recorded_once(self) -> None:
        if not hasattr(self, "crm"):
            return
        for case_id in self.model:
            metrics = [b.metric for b in self.crm.cases.breaches(case_id)]
            assert len(metrics) == len(set(metrics))
            assert {(case_id, m.value) for m in metrics} >= {
                key for key in self.breaches if key[0] == case_id}


def _after_message(expected: ModelCase, kind: MessageKind, now: datetime
                   ) -> CaseStatus | None:
    """The status a message leaves the case in, None when it must be refused."""
    status = expected.status
    if kind is MessageKind.NOTE:
        return status
    if kind is MessageKind.REPLY:
        if status is CaseStatus.CLOSED:
            return None
        return CaseStatus.OPEN if status is CaseStatus.NEW else status
    if status is CaseStatus.PENDING:
        return CaseStatus.OPEN
    if status is CaseStatus.RESOLVED:
        assert expected.resolved_at is not None
        within = now - expected.resolved_at <= POLICY.reopen_window
        return CaseStatus.OPEN if within else None
    return None if status is CaseStatus.CLOSED else status


def _refused(call: Callable[[], Any]) -> None:
    try:
        call()
    except ConflictError:
        return
    raise AssertionError("the call should have raised ConflictError")


def make_case_test(make_backend: Callable[[], Backend]) -> type[unittest.TestCase]:
    """A TestCase running :class:`CaseMachine` against ``make_backend()`` (called once per
    example; every example works in a fresh tenant)."""
    machine: Any = type("BoundCaseMachine", (CaseMachine,),
                        {"make_backend": staticmethod(make_backend)})
    machine.TestCase.settings = settings(max_examples=40, stateful_step_count=40,
                                         deadline=None)
    return machine.TestCase
