"""The memory backend's support cases: cases, order links, status history, threads,
SLA breaches and surveys in the tenant's journaled tables."""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.cases import ACTIVE, Case, CaseMessage, SLABreach, StatusChange, Survey
from ecrm.domain.timeline import Before, newest_first
from ecrm.errors import DuplicateKey

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


def _oldest_first(cases: Iterable[Case]) -> list[Case]:
    return sorted(cases, key=lambda c: (c.opened_at, c.id))


class MemoryCaseRepository:
    """Cases and everything hanging off them, in the tenant's dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._cases = data.cases
        self._changes = data.case_status_changes
        self._messages = data.case_messages
        self._message_sources = data.case_message_sources
        self._breaches = data.sla_breaches
        self._surveys = data.case_surveys

    # -- cases ---------------------------------------------------------------------------

    def add(self, case: Case) -> None:
        self._cases.insert(case.id, case)

    def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        return self._cases.rows.get(case_id)

    def replace(self, case: Case) -> None:
        self._cases.update(case.id, case)

    def for_customer(self, customer_id: str) -> list[Case]:
        return _oldest_first(c for c in self._cases.rows.values()
                             if c.customer_id == customer_id)

    def for_order(self, order_id: str) -> list[Case]:
        return _oldest_first(c for c in self._cases.rows.values() if order_id in c.order_ids)

    def active(self, *, after: str | None, limit: int) -> list[Case]:
        return self._by_id((c for c in self._cases.rows.values() if c.status in ACTIVE),
                           after, limit)

    def opened_between(self, since: datetime, until: datetime, *, after: str | None,
                       limit: int) -> list[Case]:
        return self._by_id((c for c in self._cases.rows.values()
                            if since <= c.opened_at < until), after, limit)

    @staticmethod
    def _by_id(cases: Iterable[Case], after: str | None, limit: int) -> list[Case]:
        return sorted((c for c in cases if after is None or c.id > after),
                      key=lambda c: c.id)[:limit]

    # -- history -------------------------------------------------------------------------

    def add_status_change(self, change: StatusChange) -> None:
        self._changes.insert(f"{change.case_id} {change.seq}", change)

    def history(self, case_id: str) -> list[StatusChange]:
        return self.histories([case_id]).get(case_id, [])

    def histories(self, case_ids: Collection[str]) -> dict[str, list[StatusChange]]:
        wanted = set(case_ids)
        found: dict[str, list[StatusChange]] = {}
        for change in sorted(self._changes.rows.values(), key=lambda c: c.seq):
            if change.case_id in wanted:
                found.setdefault(change.case_id, []).append(change)
        return found

    # -- messages ------------------------------------------------------------------------

    def add_message(self, message: CaseMessage) -> None:
        if message.external_id is not None:
            source = f"{message.channel} {message.external_id}"
            if source in self._message_sources.rows:
                raise DuplicateKey("case_messages.external_id", message.external_id)
            self._message_sources.insert(source, message.id)
        self._messages.insert(message.id, _own_payload(message))

    def messages(self, case_id: str) -> list[CaseMessage]:
        mine = (m for m in self._messages.rows.values() if m.case_id == case_id)
        return [_own_payload(m) for m in sorted(mine, key=lambda m: (m.occurred_at, m.id))]

    def message_by_external_id(self, channel: str, external_id: str) -> CaseMessage | None:
        found = self._message_sources.rows.get(f"{channel} {external_id}")
        return None if found is None else _own_payload(self._messages.rows[found])

    def messages_by_external_ids(self, external_ids: Collection[str]) -> list[CaseMessage]:
        wanted = set(external_ids)
        return [_own_payload(m) for m in self._messages.rows.values()
                if m.external_id in wanted]

    def message_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                         channels: Collection[str] | None, kinds: Collection[str] | None
                         ) -> list[CaseMessage]:
        mine = (m for m in self._messages.rows.values() if m.customer_id == customer_id
                and (channels is None or m.channel in channels)
                and (kinds is None or m.kind.value in kinds))
        found = newest_first(mine, lambda m: (m.occurred_at, m.id), before, limit)
        return [_own_payload(m) for m in found]

    def case_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                      channels: Collection[str] | None) -> list[Case]:
        mine = (c for c in self._cases.rows.values() if c.customer_id == customer_id
                and (channels is None or c.channel in channels))
        return newest_first(mine, lambda c: (c.opened_at, c.id), before, limit)

    # -- breaches and surveys ------------------------------------------------------------

    def add_breach(self, breach: SLABreach) -> None:
        self._breaches.insert(f"{breach.case_id} {breach.metric.value}", breach)

    def breaches(self, case_ids: Collection[str]) -> list[SLABreach]:
        wanted = set(case_ids)
        return [b for b in self._breaches.rows.values() if b.case_id in wanted]

    def add_survey(self, survey: Survey) -> None:
        self._surveys.insert(survey.id, survey)

    def get_survey(self, survey_id: str, *, for_update: bool = False) -> Survey | None:
        return self._surveys.rows.get(survey_id)

    def answer_survey(self, survey: Survey) -> None:
        self._surveys.update(survey.id, survey)

    def surveys(self, case_ids: Collection[str]) -> list[Survey]:
        wanted = set(case_ids)
        return sorted((s for s in self._surveys.rows.values() if s.case_id in wanted),
                      key=lambda s: (s.requested_at, s.id))


def _own_payload(message: CaseMessage) -> CaseMessage:
    """A copy whose payload is its own, so callers cannot change stored data."""
    return attrs.evolve(message, payload=copy.deepcopy(dict(message.payload)))
