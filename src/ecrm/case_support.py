"""Steps the case services share inside a unit of work: loading a case, what a message
does to its status, the history step of a move, and what follows a move (the
notification, the survey request, SLA breaches)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.domain.cases import (
    Case,
    CaseMessage,
    CaseStatus,
    MessageKind,
    SLABreach,
    StatusChange,
    Survey,
)
from ecrm.domain.ids import new_id
from ecrm.domain.sla import SupportPolicy, due_breaches
from ecrm.errors import ConflictError, NotFound

if TYPE_CHECKING:
    from ecrm.crm import CRM


def load_case(uow: UnitOfWork, case_id: str, *, for_update: bool = False) -> Case:
    """The case, locked with ``for_update``. :raises NotFound: no such case."""
    case = uow.cases.get(case_id, for_update=for_update) if isinstance(case_id, str) else None
    if case is None:
        raise NotFound("case", case_id)
    return case


def status_after_message(policy: SupportPolicy, case: Case, message: CaseMessage
                         ) -> CaseStatus | None:
    """The status a new message moves the case to, None when it stays.

    :raises ConflictError: the customer wrote to a case the policy keeps closed, or an
        agent replied to a closed case.
    """
    if message.kind is MessageKind.NOTE:
        return None
    if message.kind is MessageKind.REPLY:
        if case.status is CaseStatus.CLOSED:
            raise ConflictError(f"case {case.id!r} is closed; a reply needs a new case")
        return CaseStatus.OPEN if case.status is CaseStatus.NEW else None
    if case.status is CaseStatus.PENDING:
        return CaseStatus.OPEN
    if case.status is CaseStatus.RESOLVED and case.resolved_at is not None and (
            message.occurred_at - case.resolved_at <= policy.reopen_window):
        return CaseStatus.OPEN
    if case.status in (CaseStatus.RESOLVED, CaseStatus.CLOSED):
        if policy.closed_case_messages == "reopen":
            return CaseStatus.OPEN
        raise ConflictError(
            f"case {case.id!r} is {case.status.value} and past its reopen window "
            f"({policy.reopen_window}); open a new case for this message (or set the "
            "policy's closed_case_messages to 'reopen')")
    return None


def append_status_change(uow: UnitOfWork, history: Sequence[StatusChange], case: Case,
                         new: CaseStatus, at: datetime, actor: str | None) -> StatusChange:
    """Record the next step of the case's history."""
    change = StatusChange(case.id, history[-1].seq + 1, at, case.status, new, actor)
    uow.cases.add_status_change(change)
    return change


def after_status_change(crm: CRM, uow: UnitOfWork, case: Case,
                        history: Sequence[StatusChange], change: StatusChange,
                        now: datetime) -> None:
    """What follows a move: the notification, a survey request on resolution, and any
    SLA breach it makes due (a late resolution)."""
    crm.notify_after_commit(uow, "ecrm_case_status_changed", case=case, change=change)
    if case.status is CaseStatus.RESOLVED:
        request_survey(crm, uow, case, change.at)
    record_due_breaches(crm, uow, case, history, now)


def request_survey(crm: CRM, uow: UnitOfWork, case: Case, at: datetime) -> Survey | None:
    """Ask the customer for a satisfaction survey, unless the policy asks for none or an
    earlier request of the case is still unanswered."""
    kind = crm.support.survey
    if kind is None:
        return None
    if any(s.answered_at is None for s in uow.cases.surveys([case.id])):
        return None
    survey = Survey(new_id(), case.id, case.customer_id, kind, at)
    uow.cases.add_survey(survey)
    crm.notify_after_commit(uow, "ecrm_survey_requested", case=case, survey=survey)
    return survey


def record_due_breaches(crm: CRM, uow: UnitOfWork, case: Case,
                        history: Sequence[StatusChange], now: datetime) -> list[SLABreach]:
    """Record, once, every SLA target the case has missed by ``now``; the breaches
    recorded now. The caller holds the case's row lock, so two workers take turns."""
    due = due_breaches(case, list(history), crm.support, now)
    if not due:
        return []
    known = {breach.metric for breach in uow.cases.breaches([case.id])}
    recorded = []
    for metric, due_at in due:
        if metric in known:
            continue
        breach = SLABreach(case.id, metric, due_at, now)
        uow.cases.add_breach(breach)
        crm.notify_after_commit(uow, "ecrm_sla_breached", case=case, breach=breach)
        recorded.append(breach)
    return recorded
