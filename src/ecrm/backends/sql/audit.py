"""The SQL repository of the audit trail (``ecrm_audit_log``): inserts and reads only."""

from __future__ import annotations

import heapq

from sqlalchemy import RowMapping, and_, insert, or_, select

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.audit import AuditEntry, AuditQuery

_log = tables.audit_log


class SQLAuditRepository(_TenantScoped):
    """Entries in ``ecrm_audit_log``; nothing here updates or deletes one."""

    def add(self, entry: AuditEntry) -> None:
        self._conn.execute(insert(_log), {
            "tenant_id": self._tenant, "id": entry.id, "at": entry.at, "actor": entry.actor,
            "action": entry.action, "subject_kind": entry.subject_kind,
            "subject_id": entry.subject_id, "customer_id": entry.customer_id,
            "details": dict(entry.details)})

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        if query.customer_ids is None:
            return self._page(query, None)
        # One read per customer along the customer index (a merged customer's family is
        # a few ids); an IN list would lose the index's order, and planners walk the
        # whole log in time order instead.
        pages = [self._page(query, customer_id) for customer_id in query.customer_ids]
        return list(heapq.merge(*pages, key=lambda e: (e.at, e.id)))[:query.limit]

    def _page(self, query: AuditQuery, customer_id: str | None) -> list[AuditEntry]:
        c = _log.c
        conditions = [self._mine(_log)]
        for column, value in ((c.customer_id, customer_id), (c.subject_kind,
                              query.subject_kind), (c.subject_id, query.subject_id),
                              (c.actor, query.actor)):
            if value is not None:
                conditions.append(column == value)
        if query.actions is not None:
            conditions.append(c.action.in_(query.actions))
        if query.since is not None:
            conditions.append(c.at >= query.since)
        if query.until is not None:
            conditions.append(c.at < query.until)
        if query.after is not None:
            at, entry_id = query.after
            conditions.append(or_(c.at > at, and_(c.at == at, c.id > entry_id)))
        statement = (select(_log).where(*conditions).order_by(c.at, c.id)
                     .limit(query.limit))
        return [_entry_from_row(row) for row in self._conn.execute(statement).mappings()]


def _entry_from_row(row: RowMapping) -> AuditEntry:
    return AuditEntry(id=row["id"], at=row["at"], actor=row["actor"], action=row["action"],
                      subject_kind=row["subject_kind"], subject_id=row["subject_id"],
                      customer_id=row["customer_id"], details=row["details"])
