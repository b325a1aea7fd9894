"""SQL repository of support cases: cases with their order links, status history, message
threads, SLA breaches and surveys."""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import RowMapping, Select, and_, delete, insert, select, update
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped, hinted
from ecrm.batching import chunks
from ecrm.domain.cases import (
    ACTIVE,
    Case,
    CaseMessage,
    CaseStatus,
    CaseType,
    MessageKind,
    Priority,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.timeline import Before

_c = tables.cases
_links = tables.case_orders
_h = tables.case_status_changes
_m = tables.case_messages
_b = tables.sla_breaches
_s = tables.case_surveys

# As for interactions: MariaDB may prefer the tenant's time index for a customer's rows
# (it did for cases even on a dozen rows, to save a sort, reading every other customer's
# cases); the timelines and a customer's case list stay on the customer's (time, id) index.
_CASE_TIMELINE_HINT = "FORCE INDEX (ix_ecrm_cases_tenant_id_customer_id_opened_at_id)"
_MESSAGE_TIMELINE_HINT = (
    "FORCE INDEX (ix_ecrm_case_messages_tenant_id_customer_id_occurred_at_id)")


class SQLCaseRepository(_TenantScoped):
    """Cases in ``ecrm_cases`` (order links in ``ecrm_case_orders``), their history in
    ``ecrm_case_status_changes``, threads in ``ecrm_case_messages``, breaches in
    ``ecrm_sla_breaches`` and surveys in ``ecrm_case_surveys``."""

    # -- cases ---------------------------------------------------------------------------

    def add(self, case: Case) -> None:
        """Insert a case and its order links."""
        self._conn.execute(insert(_c), _case_params(self._tenant, case))
        self._add_links(case)

    def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        """The case, or None; ``for_update`` locks its row (and its links, so that every
        read of a locking get is a locking read: on MySQL/MariaDB a plain read would fix
        the transaction's snapshot)."""
        query = select(_c).where(self._mine(_c), _c.c.id == case_id)
        if for_update:
            query = query.with_for_update()
        found = self._cases(query, for_update=for_update)
        return found[0] if found else None

    def replace(self, case: Case) -> None:
        """Overwrite every column of the stored case and replace its order links."""
        params = _case_params(self._tenant, case)
        del params["tenant_id"], params["id"]
        self._conn.execute(update(_c).where(self._mine(_c), _c.c.id == case.id)
                           .values(**params))
        self._conn.execute(delete(_links).where(self._mine(_links),
                                                _links.c.case_id == case.id))
        self._add_links(case)

    def for_customer(self, customer_id: str) -> list[Case]:
        """The customer's cases, oldest first (ties by id), along the customer's index."""
        query = (select(_c).where(self._mine(_c), _c.c.customer_id == customer_id)
                 .order_by(_c.c.opened_at, _c.c.id))
        return self._cases(hinted(query, _c, _CASE_TIMELINE_HINT))

    def for_order(self, order_id: str) -> list[Case]:
        """The cases linked to the order, oldest first (ties by id). An order has few
        cases, so they are sorted here: an ORDER BY would tempt SQLite to walk the
        tenant's (opened_at, id) index instead of looking the order up."""
        linked = and_(_links.c.tenant_id == _c.c.tenant_id, _links.c.case_id == _c.c.id)
        query = (select(_c).join(_links, linked)
                 .where(self._mine(_c), self._mine(_links), _links.c.order_id == order_id))
        return sorted(self._cases(query), key=lambda case: (case.opened_at, case.id))

    def active(self, *, after: str | None, limit: int) -> list[Case]:
        """Up to ``limit`` active cases with id above ``after``, by id: one walk of the
        (status, id) index per active status, merged, so a page costs ``limit`` rows per
        status however many cases are active."""
        per_status = [self._case_rows(self._active_page(status, after, limit))
                      for status in sorted(ACTIVE)]
        rows = list(islice(heapq.merge(*per_status, key=lambda row: row["id"]), limit))
        return self._with_links(rows)

    def opened_between(self, since: datetime, until: datetime) -> list[Case]:
        """The cases opened in ``[since, until)``: one range of the tenant's opened_at
        index."""
        return self._cases(select(_c).where(self._mine(_c), _c.c.opened_at >= since,
                                            _c.c.opened_at < until))

    def case_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                      channels: Collection[str] | None) -> list[Case]:
        """Up to ``limit`` of the customer's cases below ``before``, newest first, read
        backwards along the customer's (opened_at, id) index."""
        return self._cases(self._timeline_slice(
            _c, _c, time=_c.c.opened_at, row_id=_c.c.id, customer_id=customer_id,
            before=before, limit=limit, only={_c.c.channel: channels},
            hint=_CASE_TIMELINE_HINT))

    # -- status history ------------------------------------------------------------------

    def add_status_change(self, change: StatusChange) -> None:
        """Append a step; the (case, seq) key refuses a repeated ``seq``."""
        self._conn.execute(insert(_h), _change_params(self._tenant, change))

    def history(self, case_id: str) -> list[StatusChange]:
        """The case's status changes, by ``seq``."""
        query = (select(_h).where(self._mine(_h), _h.c.case_id == case_id)
                 .order_by(_h.c.seq))
        return [_change_from_row(row) for row in self._conn.execute(query).mappings()]

    def histories(self, case_ids: Collection[str]) -> dict[str, list[StatusChange]]:
        """The histories of many cases, by case id (cases without one left out)."""
        found: dict[str, list[StatusChange]] = {}
        for batch in chunks(sorted(set(case_ids)), IN_CHUNK):
            query = (select(_h).where(self._mine(_h), _h.c.case_id.in_(batch))
                     .order_by(_h.c.case_id, _h.c.seq))
            for row in self._conn.execute(query).mappings():
                found.setdefault(row["case_id"], []).append(_change_from_row(row))
        return found

    # -- messages ------------------------------------------------------------------------

    def add_message(self, message: CaseMessage) -> None:
        """Insert; the keys refuse a taken id, or a taken external id on the channel."""
        self._conn.execute(insert(_m), _message_params(self._tenant, message))

    def messages(self, case_id: str) -> list[CaseMessage]:
        """The case's thread, oldest first (ties by id)."""
        return self._messages(_m.c.case_id == case_id)

    def message_by_external_id(self, channel: str, external_id: str) -> CaseMessage | None:
        """The message recorded with this external id on ``channel``, or None."""
        found = self._messages(_m.c.channel == channel, _m.c.external_id == external_id)
        return found[0] if found else None

    def messages_by_external_ids(self, external_ids: Collection[str]
                                 ) -> list[CaseMessage]:
        """The messages on any channel whose external id is one of ``external_ids``,
        oldest first (ties by id)."""
        found: list[CaseMessage] = []
        for batch in chunks(sorted(set(external_ids)), IN_CHUNK):
            found.extend(self._messages(_m.c.external_id.in_(batch)))
        return sorted(found, key=lambda m: (m.occurred_at, m.id))

    def message_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                         channels: Collection[str] | None, kinds: Collection[str] | None
                         ) -> list[CaseMessage]:
        """Up to ``limit`` of the customer's case messages below ``before``, newest first,
        read backwards along the customer's (occurred_at, id) index."""
        query = self._timeline_slice(_m, _m, time=_m.c.occurred_at, row_id=_m.c.id,
                                     customer_id=customer_id, before=before, limit=limit,
                                     only={_m.c.channel: channels, _m.c.kind: kinds},
                                     hint=_MESSAGE_TIMELINE_HINT)
        return [_message_from_row(row) for row in self._conn.execute(query).mappings()]

    # -- SLA breaches and surveys --------------------------------------------------------

    def add_breach(self, breach: SLABreach) -> None:
        """Record a breach; the (case, metric) key refuses a second one."""
        self._conn.execute(insert(_b), {
            "tenant_id": self._tenant, "case_id": breach.case_id,
            "metric": breach.metric.value, "due_at": breach.due_at,
            "detected_at": breach.detected_at})

    def breaches(self, case_ids: Collection[str]) -> list[SLABreach]:
        """The breaches of these cases, by case id and metric."""
        found: list[SLABreach] = []
        for batch in chunks(sorted(set(case_ids)), IN_CHUNK):
            query = (select(_b).where(self._mine(_b), _b.c.case_id.in_(batch))
                     .order_by(_b.c.case_id, _b.c.metric))
            found.extend(_breach_from_row(row) for row in self._conn.execute(query).mappings())
        return found

    def add_survey(self, survey: Survey) -> None:
        """Insert a survey request."""
        self._conn.execute(insert(_s), _survey_params(self._tenant, survey))

    def get_survey(self, survey_id: str, *, for_update: bool = False) -> Survey | None:
        """The survey, or None; ``for_update`` locks its row."""
        query = select(_s).where(self._mine(_s), _s.c.id == survey_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _survey_from_row(row)

    def answer_survey(self, survey: Survey) -> None:
        """Store the survey's ``answered_at``, ``score`` and ``comment``."""
        statement = update(_s).where(self._mine(_s), _s.c.id == survey.id)
        self._conn.execute(statement.values(answered_at=survey.answered_at,
                                            score=survey.score, comment=survey.comment))

    def surveys(self, case_ids: Collection[str]) -> list[Survey]:
        """The surveys of these cases, oldest first (ties by id)."""
        found: list[Survey] = []
        for batch in chunks(sorted(set(case_ids)), IN_CHUNK):
            query = select(_s).where(self._mine(_s), _s.c.case_id.in_(batch))
            found.extend(_survey_from_row(row) for row in self._conn.execute(query).mappings())
        return sorted(found, key=lambda s: (s.requested_at, s.id))

    # -- helpers -------------------------------------------------------------------------

    def _add_links(self, case: Case) -> None:
        _insert_many(self._conn, _links, [
            {"tenant_id": self._tenant, "case_id": case.id, "order_id": order_id,
             "position": position}
            for position, order_id in enumerate(case.order_ids)])

    def _active_page(self, status: CaseStatus, after: str | None, limit: int) -> Select:
        query = select(_c).where(self._mine(_c), _c.c.status == status.value)
        if after is not None:
            query = query.where(_c.c.id > after)
        return query.order_by(_c.c.id).limit(limit)

    def _case_rows(self, query: Select) -> list[RowMapping]:
        return list(self._conn.execute(query).mappings())

    def _cases(self, query: Select, *, for_update: bool = False) -> list[Case]:
        """The cases ``query`` selects (whole ``ecrm_cases`` rows), in its order."""
        return self._with_links(self._case_rows(query), for_update=for_update)

    def _with_links(self, rows: Iterable[RowMapping], *, for_update: bool = False
                    ) -> list[Case]:
        rows = list(rows)
        links = self._links_of([row["id"] for row in rows], for_update=for_update)
        return [_case_from_row(row, links.get(row["id"], ())) for row in rows]

    def _links_of(self, case_ids: list[str], *, for_update: bool) -> dict[str, tuple[str, ...]]:
        """The order ids linked to each of ``case_ids``, in their positions."""
        found: dict[str, list[str]] = {}
        for batch in chunks(sorted(set(case_ids)), IN_CHUNK):
            query = (select(_links.c.case_id, _links.c.order_id)
                     .where(self._mine(_links), _links.c.case_id.in_(batch))
                     .order_by(_links.c.case_id, _links.c.position))
            if for_update:
                query = query.with_for_update()
            for case_id, order_id in self._conn.execute(query):
                found.setdefault(case_id, []).append(order_id)
        return {case_id: tuple(order_ids) for case_id, order_ids in found.items()}

    def _messages(self, *conditions: ColumnElement[bool]) -> list[CaseMessage]:
        query = (select(_m).where(self._mine(_m), *conditions)
                 .order_by(_m.c.occurred_at, _m.c.id))
        return [_message_from_row(row) for row in self._conn.execute(query).mappings()]


def _case_params(tenant: str, case: Case) -> dict[str, Any]:
    return {
        "tenant_id": tenant, "id": case.id, "customer_id": case.customer_id,
        "type": case.type.value, "subject": case.subject, "priority": case.priority.value,
        "status": case.status.value, "channel": case.channel, "category": case.category,
        "root_cause": case.root_cause, "assignee": case.assignee, "team": case.team,
        "tags": list(case.tags), "opened_at": case.opened_at, "updated_at": case.updated_at,
        "first_response_at": case.first_response_at, "resolved_at": case.resolved_at,
        "closed_at": case.closed_at, "reopen_count": case.reopen_count,
    }


def _case_from_row(row: RowMapping, order_ids: tuple[str, ...]) -> Case:
    return Case(
        id=row["id"], customer_id=row["customer_id"], type=CaseType(row["type"]),
        subject=row["subject"], priority=Priority(row["priority"]),
        status=CaseStatus(row["status"]), channel=row["channel"],
        opened_at=row["opened_at"], updated_at=row["updated_at"],
        category=row["category"], root_cause=row["root_cause"], tags=tuple(row["tags"]),
        assignee=row["assignee"], team=row["team"], order_ids=order_ids,
        first_response_at=row["first_response_at"], resolved_at=row["resolved_at"],
        closed_at=row["closed_at"], reopen_count=row["reopen_count"])


def _change_params(tenant: str, change: StatusChange) -> dict[str, Any]:
    return {"tenant_id": tenant, "case_id": change.case_id, "seq": change.seq,
            "at": change.at, "old": None if change.old is None else change.old.value,
            "new": change.new.value, "actor": change.actor}


def _change_from_row(row: RowMapping) -> StatusChange:
    old = row["old"]
    return StatusChange(case_id=row["case_id"], seq=row["seq"], at=row["at"],
                        old=None if old is None else CaseStatus(old),
                        new=CaseStatus(row["new"]), actor=row["actor"])


def _message_params(tenant: str, message: CaseMessage) -> dict[str, Any]:
    return {"tenant_id": tenant, "id": message.id, "case_id": message.case_id,
            "customer_id": message.customer_id, "kind": message.kind.value,
            "channel": message.channel, "body": message.body,
            "occurred_at": message.occurred_at, "recorded_at": message.recorded_at,
            "author": message.author, "external_id": message.external_id,
            "payload": dict(message.payload) or None}


def _message_from_row(row: RowMapping) -> CaseMessage:
    return CaseMessage(
        id=row["id"], case_id=row["case_id"], customer_id=row["customer_id"],
        kind=MessageKind(row["kind"]), channel=row["channel"], body=row["body"],
        occurred_at=row["occurred_at"], recorded_at=row["recorded_at"],
        author=row["author"], external_id=row["external_id"], payload=row["payload"] or {})


def _breach_from_row(row: RowMapping) -> SLABreach:
    return SLABreach(case_id=row["case_id"], metric=SLAMetric(row["metric"]),
                     due_at=row["due_at"], detected_at=row["detected_at"])


def _survey_params(tenant: str, survey: Survey) -> dict[str, Any]:
    return {"tenant_id": tenant, "id": survey.id, "case_id": survey.case_id,
            "customer_id": survey.customer_id, "kind": survey.kind.value,
            "requested_at": survey.requested_at, "answered_at": survey.answered_at,
            "score": survey.score, "comment": survey.comment}


def _survey_from_row(row: RowMapping) -> Survey:
    return Survey(id=row["id"], case_id=row["case_id"], customer_id=row["customer_id"],
                  kind=SurveyKind(row["kind"]), requested_at=row["requested_at"],
                  answered_at=row["answered_at"], score=row["score"],
                  comment=row["comment"])
