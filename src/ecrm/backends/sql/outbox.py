"""SQL repository of the transactional outbox (``ecrm_outbox``).

Claiming is exactly-once across concurrent dispatchers: on PostgreSQL and MySQL/MariaDB
the due rows are read ``FOR UPDATE SKIP LOCKED`` (another dispatcher's claim in flight is
skipped, not waited for), then marked sending in the same short transaction; SQLite takes
the write lock at BEGIN, so claims there run one after another.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import RowMapping, func, select, update

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.outbox import PRIORITIES, MessageStatus, OutboxMessage
from ecrm.domain.timeline import Before

_t = tables.outbox

#: Rows per INSERT executemany of ``add_many``, so memory stays flat for huge batches.
INSERT_CHUNK = 2000

#: The columns a state change writes.
STATE_COLUMNS = ("status", "attempts", "due_at", "sent_at", "last_error", "provider_id",
                 "lease_until")


class SQLOutboxRepository(_TenantScoped):
    """Outbox messages in ``ecrm_outbox``."""

    def add(self, message: OutboxMessage) -> None:
        self._conn.execute(_t.insert(), self._params(message))

    def add_many(self, messages: Collection[OutboxMessage]) -> None:
        for batch in chunks(messages, INSERT_CHUNK):
            _insert_many(self._conn, _t, [self._params(m) for m in batch])

    def get(self, message_id: str, *, for_update: bool = False) -> OutboxMessage | None:
        query = select(_t).where(self._mine(_t), _t.c.id == message_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _from_row(row)

    def by_keys(self, keys: Collection[str]) -> dict[str, OutboxMessage]:
        found: dict[str, OutboxMessage] = {}
        for batch in chunks(set(keys), IN_CHUNK):
            query = select(_t).where(self._mine(_t), _t.c.key.in_(batch))
            found.update((row["key"], _from_row(row))
                         for row in self._conn.execute(query).mappings())
        return found

    def claim_due(self, now: datetime, limit: int, lease_until: datetime
                  ) -> list[OutboxMessage]:
        """On MySQL/MariaDB the claiming transaction reads committed data: under the
        default REPEATABLE READ its locking range scans also lock the gaps, and racing
        claimers then deadlock on the index entries their UPDATEs move."""
        self._read_committed()
        due = self._due(MessageStatus.SENDING, None, now, limit)
        for priority in reversed(PRIORITIES):
            if len(due) >= limit:
                break
            due += self._due(MessageStatus.PENDING, priority, now, limit - len(due))
        if due:
            self._conn.execute(
                update(_t).where(self._mine(_t), _t.c.id.in_([m.id for m in due]))
                .values(status=MessageStatus.SENDING.value, due_at=lease_until,
                        lease_until=lease_until))
        return [_claimed(m, lease_until) for m in due]

    def _read_committed(self) -> None:
        """Make this transaction READ COMMITTED on MySQL/MariaDB, when it has not begun
        yet (the claim is its first statement; inside a host's transaction it stays as
        the host set it)."""
        if self._conn.dialect.name == "mysql" and not self._conn.in_nested_transaction():
            self._conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    def _due(self, status: MessageStatus, priority: int | None, now: datetime, limit: int
             ) -> list[OutboxMessage]:
        """Up to ``limit`` rows of ``status`` (and ``priority``) due by ``now``, locked,
        skipping rows another transaction holds. One priority at a time, so that every
        database walks the (status, priority, due_at, id) index in order and stops at
        the limit instead of sorting the whole backlog."""
        query = select(_t).where(self._mine(_t), _t.c.status == status.value,
                                 _t.c.due_at <= now)
        if priority is not None:
            query = query.where(_t.c.priority == priority)
        query = (query.order_by(_t.c.due_at, _t.c.id).limit(limit)
                 .with_for_update(skip_locked=True))
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def settle(self, message: OutboxMessage, lease_until: datetime) -> bool:
        done = self._conn.execute(
            update(_t).where(self._mine(_t), _t.c.id == message.id,
                             _t.c.status == MessageStatus.SENDING.value,
                             _t.c.lease_until == lease_until)
            .values(_state(message)))
        return done.rowcount == 1

    def replace(self, message: OutboxMessage) -> None:
        self._conn.execute(update(_t).where(self._mine(_t), _t.c.id == message.id)
                           .values(_state(message)))

    def find(self, *, status: str | None, campaign_id: str | None,
             customer_id: str | None, limit: int) -> list[OutboxMessage]:
        query = select(_t).where(self._mine(_t))
        for column, value in ((_t.c.status, status), (_t.c.campaign_id, campaign_id),
                              (_t.c.customer_id, customer_id)):
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(_t.c.created_at, _t.c.id).limit(limit)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def recent(self, customer_id: str, since: datetime) -> list[OutboxMessage]:
        """Along the customer index. A plain read: the caller holds the customer's lock
        and, on MySQL/MariaDB, runs READ COMMITTED (see :meth:`claim_due`), so it sees
        every claim decided before; locking the rows would wait on other dispatchers'
        claims and deadlock with them."""
        sending, sent = MessageStatus.SENDING.value, MessageStatus.SENT.value
        query = select(_t).where(self._mine(_t), _t.c.customer_id == customer_id,
                                 (_t.c.status == sending)
                                 | ((_t.c.status == sent) & (_t.c.sent_at >= since)))
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def timeline(self, customer_id: str, *, before: Before | None, limit: int
                 ) -> list[OutboxMessage]:
        query = self._timeline_slice(_t, _t, time=_t.c.created_at, row_id=_t.c.id,
                                     customer_id=customer_id, before=before, limit=limit)
        return [_from_row(row) for row in self._conn.execute(query).mappings()]

    def counts(self, campaign_id: str | None) -> dict[str, int]:
        query = select(_t.c.status, func.count()).where(self._mine(_t))
        if campaign_id is not None:
            query = query.where(_t.c.campaign_id == campaign_id)
        return {status: count for status, count
                in self._conn.execute(query.group_by(_t.c.status))}

    def _params(self, message: OutboxMessage) -> dict[str, Any]:
        return {"tenant_id": self._tenant, "id": message.id, "key": message.key,
                "customer_id": message.customer_id, "channel": message.channel,
                "purpose": message.purpose, "recipient": message.recipient,
                "subject": message.subject, "body": message.body, "data": dict(message.data),
                "priority": message.priority, "campaign_id": message.campaign_id,
                "variant": message.variant, "step": message.step,
                "created_at": message.created_at, **_state(message)}


def _state(message: OutboxMessage) -> dict[str, Any]:
    values = {name: getattr(message, name) for name in STATE_COLUMNS}
    values["status"] = str(message.status)
    return values


def _claimed(message: OutboxMessage, lease_until: datetime) -> OutboxMessage:
    return attrs.evolve(message, status=MessageStatus.SENDING, due_at=lease_until,
                  lease_until=lease_until)


def _from_row(row: RowMapping) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"], key=row["key"], customer_id=row["customer_id"], channel=row["channel"],
        purpose=row["purpose"], recipient=row["recipient"], subject=row["subject"],
        body=row["body"], data=row["data"], priority=row["priority"],
        campaign_id=row["campaign_id"], variant=row["variant"], step=row["step"],
        status=MessageStatus(row["status"]), attempts=row["attempts"],
        due_at=row["due_at"], created_at=row["created_at"], sent_at=row["sent_at"],
        last_error=row["last_error"], provider_id=row["provider_id"],
        lease_until=row["lease_until"])
