"""The SLA side of ``crm.cases``: each case's clocks, and the check job that records
missed targets once, however many workers run it at the same time."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.case_support import load_case, record_due_breaches
from ecrm.domain.cases import Case, SLABreach
from ecrm.domain.sla import CaseSLA, due_breaches, measure

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Active cases the check job reads per transaction.
CHECK_BATCH = 500


def case_sla(crm: CRM, case_id: str) -> CaseSLA:
    """The case's clocks now: elapsed and remaining business time per target."""
    now = crm.clock.now()

    def work(uow: UnitOfWork) -> CaseSLA:
        case = load_case(uow, case_id)
        return measure(case, uow.cases.history(case.id), crm.support, now)

    return crm.transact(work, read_only=True)


def check_sla(crm: CRM) -> list[SLABreach]:
    """Record every target the active cases have missed by now (the CRM's clock) and
    not recorded yet; the breaches this run recorded.

    Cases are read in pages without locks; only a case with a new breach is locked and
    looked at again, so a breach is recorded exactly once even when several workers run
    the job at once (the loser of the race finds it recorded).
    """
    now = crm.clock.now()
    recorded: list[SLABreach] = []
    after: str | None = None
    while True:
        page, candidates = crm.transact(
            lambda uow, after=after: _candidates(crm, uow, after, now), read_only=True)
        for case_id in candidates:
            recorded.extend(crm.transact(lambda uow, case_id=case_id: _record(
                crm, uow, case_id, now), replay_on_duplicate=True))
        if len(page) < CHECK_BATCH:
            return recorded
        after = page[-1].id


def _candidates(crm: CRM, uow: UnitOfWork, after: str | None, now: datetime
                ) -> tuple[list[Case], list[str]]:
    """A page of active cases and the ids of those with a breach not yet recorded."""
    page = uow.cases.active(after=after, limit=CHECK_BATCH)
    ids = [case.id for case in page]
    histories = uow.cases.histories(ids)
    known = {(b.case_id, b.metric) for b in uow.cases.breaches(ids)}
    candidates = []
    for case in page:
        due = due_breaches(case, histories.get(case.id, []), crm.support, now)
        if any((case.id, metric) not in known for metric, _ in due):
            candidates.append(case.id)
    return page, candidates


def _record(crm: CRM, uow: UnitOfWork, case_id: str, now: datetime) -> list[SLABreach]:
    case = load_case(uow, case_id, for_update=True)
    return record_due_breaches(crm, uow, case, uow.cases.history(case.id), now)
