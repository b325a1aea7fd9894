"""SQL side of erasure and retention: the ``erased_*`` rules of
:mod:`ecrm.domain.privacy` as one UPDATE per table, erasure records, and the outbox purge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import RowMapping

from ecrm.backends.sql import rows, tables
from ecrm.backends.sql.repositories import IN_CHUNK, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.customers import CustomerMerge
from ecrm.domain.outbox import MessageStatus
from ecrm.domain.privacy import ERASED_TEXT, UNSENT, Redaction

#: What each table's personal columns become, for the rows whose ``customer_id`` is the
#: erased customer (mirrors the ``erased_*`` functions of ecrm.domain.privacy).
ERASED_COLUMNS: dict[Table, dict[str, Any]] = {
    tables.interactions: {"payload": None},
    tables.cases: {"subject": ERASED_TEXT},
    tables.case_messages: {"body": "", "author": None, "payload": None, "external_id": None},
    tables.case_surveys: {"comment": None},
    tables.point_transactions: {"reason": None},
    tables.consent_changes: {"source": None},
    tables.outbox: {"recipient": "", "subject": None, "body": "", "data": {},
                    "last_error": None, "provider_id": None},
}

#: Tables whose rows are the customer's through a parent row: the row's link column, the
#: parent table and its key, and what the personal columns become.
ERASED_THROUGH_PARENT: tuple[tuple[Table, str, Table, str, dict[str, Any]], ...] = (
    (tables.refunds, "order_id", tables.orders, "order_id", {"reason": None}),
    (tables.case_status_changes, "case_id", tables.cases, "id", {"actor": None}),
)

FINISHED = [str(s) for s in (MessageStatus.SENT, MessageStatus.DEAD, MessageStatus.CANCELLED)]

_outbox = tables.outbox
_redactions = tables.redactions


class SQLPrivacyRepository(_TenantScoped):
    """Erasure across the customer's tables; records in ``ecrm_redactions``."""

    def erase_records(self, customer_id: str) -> dict[str, int]:
        self._cancel_unsent(customer_id)
        removed = {table.name.removeprefix("ecrm_"): self._blank(table, columns, customer_id)
                   for table, columns in ERASED_COLUMNS.items()}
        for table, link, parent, key, columns in ERASED_THROUGH_PARENT:
            parents = select(parent.c[key]).where(self._mine(parent),
                                                  parent.c.customer_id == customer_id)
            done = self._conn.execute(update(table).where(
                self._mine(table), table.c[link].in_(parents)).values(columns))
            removed[table.name.removeprefix("ecrm_")] = done.rowcount
        return removed

    def recipients(self, customer_id: str) -> set[tuple[str, str]]:
        query = (select(_outbox.c.channel, _outbox.c.recipient).distinct()
                 .where(self._mine(_outbox), _outbox.c.customer_id == customer_id))
        return {(row.channel, row.recipient) for row in self._conn.execute(query)}

    def replace_merge(self, merge: CustomerMerge) -> None:
        m = tables.customer_merges
        self._conn.execute(update(m).where(self._mine(m), m.c.duplicate_id == merge.duplicate_id)
                           .values(duplicate=rows.customer_to_json(merge.duplicate)))

    def add_redaction(self, redaction: Redaction) -> None:
        self._conn.execute(insert(_redactions), {
            "tenant_id": self._tenant, "id": redaction.id,
            "customer_id": redaction.customer_id, "erased_at": redaction.erased_at,
            "removed": dict(redaction.removed)})

    def redactions(self, customer_id: str) -> list[Redaction]:
        query = (select(_redactions)
                 .where(self._mine(_redactions), _redactions.c.customer_id == customer_id)
                 .order_by(_redactions.c.erased_at, _redactions.c.id))
        return [_redaction(row) for row in self._conn.execute(query).mappings()]

    def delete_messages(self, before: datetime, limit: int) -> int:
        # Ids first, then a DELETE by id: MySQL allows no LIMIT in a subquery of DELETE.
        ids = list(self._conn.execute(
            select(_outbox.c.id).where(self._mine(_outbox), _outbox.c.status.in_(FINISHED),
                                       _outbox.c.created_at < before).limit(limit)).scalars())
        for batch in chunks(ids, IN_CHUNK):
            self._conn.execute(delete(_outbox).where(self._mine(_outbox),
                                                     _outbox.c.id.in_(batch)))
        return len(ids)

    def _cancel_unsent(self, customer_id: str) -> None:
        self._conn.execute(
            update(_outbox)
            .where(self._mine(_outbox), _outbox.c.customer_id == customer_id,
                   _outbox.c.status.in_([str(s) for s in UNSENT]))
            .values(status=MessageStatus.CANCELLED.value, lease_until=None))

    def _blank(self, table: Table, columns: dict[str, Any], customer_id: str) -> int:
        done = self._conn.execute(update(table)
                                  .where(self._mine(table), table.c.customer_id == customer_id)
                                  .values(columns))
        return done.rowcount


def _redaction(row: RowMapping) -> Redaction:
    return Redaction(id=row["id"], customer_id=row["customer_id"], erased_at=row["erased_at"],
                     removed=dict(row["removed"]))
