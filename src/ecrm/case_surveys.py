"""Satisfaction surveys of ``crm.cases``: answers recorded against the case and the
customer, and the support figures built on them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.case_support import load_case
from ecrm.domain import cases as rules
from ecrm.domain import validation as check
from ecrm.domain.cases import Case, SLABreach, StatusChange, Survey
from ecrm.domain.ids import new_id
from ecrm.domain.interactions import Interaction, InteractionKind
from ecrm.errors import ConflictError, NotFound

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Cases read per transaction when figures walk a period.
FIGURES_BATCH = 1000


def answer_survey(crm: CRM, survey_id: str, score: int, comment: str | None) -> Survey:
    """Record the customer's answer (once: the same answer again is a replay) and a
    ``survey_answer`` interaction on the customer's timeline."""
    note = check.text("comment", comment, 2000)
    now = crm.clock.now()

    def work(uow: UnitOfWork) -> Survey:
        survey = uow.cases.get_survey(survey_id, for_update=True) if isinstance(
            survey_id, str) else None
        if survey is None:
            raise NotFound("survey", survey_id)
        value = rules.score(survey.kind, score)
        if survey.answered_at is not None:
            if (survey.score, survey.comment) == (value, note):
                return survey
            raise ConflictError(f"survey {survey.id!r} was already answered")
        answered = attrs.evolve(survey, answered_at=now, score=value, comment=note)
        uow.cases.answer_survey(answered)
        case = load_case(uow, survey.case_id)
        interaction = _answer_interaction(case, answered, now)
        uow.interactions.add(interaction)
        crm.notify_after_commit(uow, "ecrm_survey_answered", case=case, survey=answered)
        crm.notify_after_commit(uow, "ecrm_interaction_recorded", interaction=interaction)
        return answered

    return crm.transact(work)


def _answer_interaction(case: Case, survey: Survey, at: datetime) -> Interaction:
    return Interaction(id=new_id(), customer_id=case.customer_id, channel=case.channel,
                       kind=InteractionKind.SURVEY_ANSWER.value, occurred_at=at,
                       recorded_at=at, reference=case.id,
                       payload={"survey": survey.kind.value, "score": survey.score})


@attrs.frozen
class CasePeriod:
    """The cases opened in a period with everything figures need about them."""

    cases: list[Case]
    histories: dict[str, list[StatusChange]]
    breaches: list[SLABreach]
    surveys: list[Survey]


def cases_opened(crm: CRM, since: datetime, until: datetime) -> CasePeriod:
    """Every case opened in ``[since, until)``, with histories, breaches and surveys,
    read a page (``FIGURES_BATCH`` cases) per transaction."""
    start = check.aware("since", since)
    end = check.aware("until", until)
    assert start is not None and end is not None
    period = CasePeriod([], {}, [], [])
    after: str | None = None
    while True:
        page = crm.transact(lambda uow, after=after: _period_page(uow, start, end, after),
                            read_only=True)
        period.cases.extend(page.cases)
        period.histories.update(page.histories)
        period.breaches.extend(page.breaches)
        period.surveys.extend(page.surveys)
        if len(page.cases) < FIGURES_BATCH:
            return period
        after = page.cases[-1].id


def _period_page(uow: UnitOfWork, since: datetime, until: datetime, after: str | None
                 ) -> CasePeriod:
    cases = uow.cases.opened_between(since, until, after=after, limit=FIGURES_BATCH)
    ids = [case.id for case in cases]
    return CasePeriod(cases, uow.cases.histories(ids), list(uow.cases.breaches(ids)),
                      uow.cases.surveys(ids))

