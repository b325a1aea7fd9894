"""The memory backend's audit trail, in the tenant's journaled tables (so an entry
written by a unit of work that fails goes with it)."""

from __future__ import annotations

import copy
import heapq
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.audit import AuditEntry, AuditQuery

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


class MemoryAuditRepository:
    """Entries by id; reads filter and sort in Python. Nothing updates or deletes one."""

    def __init__(self, data: _TenantData) -> None:
        self._entries = data.audit_log

    def add(self, entry: AuditEntry) -> None:
        self._entries.insert(entry.id, _detached(entry))

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        found = (e for e in self._entries.rows.values() if query.matches(e))
        chosen = heapq.nsmallest(query.limit, found, key=lambda e: (e.at, e.id))
        return [_detached(e) for e in chosen]


def _detached(entry: AuditEntry) -> AuditEntry:
    """A copy whose ``details`` are its own: what a caller holds never changes the log."""
    return attrs.evolve(entry, details=copy.deepcopy(dict(entry.details)))
