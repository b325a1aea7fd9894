"""The memory backend's outbox: messages by id in the tenant's journaled tables, with the
idempotency key as a unique secondary key. The backend's one lock serialises claims."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.outbox import MessageStatus, OutboxMessage
from ecrm.domain.timeline import Before, newest_first

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData

#: The statuses a claim may pick up (sending ones only once their lease ran out).
CLAIMABLE = (MessageStatus.PENDING, MessageStatus.SENDING)


def dispatch_order(message: OutboxMessage) -> tuple[bool, int, datetime, str]:
    """Expired claims first, then the highest priority, the earliest due, the id."""
    return (message.status != MessageStatus.SENDING, -message.priority, message.due_at,
            message.id)


def _own(message: OutboxMessage) -> OutboxMessage:
    """A copy whose ``data`` is its own, so callers cannot change stored messages."""
    return attrs.evolve(message, data=copy.deepcopy(message.data))


class MemoryOutboxRepository:
    """Outbox messages keyed by id, unique by key."""

    def __init__(self, data: _TenantData) -> None:
        self._messages = data.outbox

    def add(self, message: OutboxMessage) -> None:
        self._messages.insert(message.id, _own(message))

    def add_many(self, messages: Collection[OutboxMessage]) -> None:
        for message in messages:
            self._messages.insert(message.id, _own(message))

    def get(self, message_id: str, *, for_update: bool = False) -> OutboxMessage | None:
        found = self._messages.rows.get(message_id)
        return None if found is None else _own(found)

    def by_keys(self, keys: Collection[str]) -> dict[str, OutboxMessage]:
        found = (self._messages.lookup("key", key) for key in set(keys))
        return {message.key: _own(message) for message in found if message is not None}

    def claim_due(self, now: datetime, limit: int, lease_until: datetime
                  ) -> list[OutboxMessage]:
        due = sorted((m for m in self._messages.rows.values()
                      if m.status in CLAIMABLE and m.due_at <= now), key=dispatch_order)
        claimed = [attrs.evolve(m, status=MessageStatus.SENDING, due_at=lease_until,
                                lease_until=lease_until) for m in due[:limit]]
        for message in claimed:
            self._messages.update(message.id, message)
        return [_own(m) for m in claimed]

    def settle(self, message: OutboxMessage, lease_until: datetime) -> bool:
        stored = self._messages.rows.get(message.id)
        if (stored is None or stored.status != MessageStatus.SENDING
                or stored.lease_until != lease_until):
            return False
        self._messages.update(message.id, _own(message))
        return True

    def replace(self, message: OutboxMessage) -> None:
        self._messages.update(message.id, _own(message))

    def find(self, *, status: str | None, campaign_id: str | None,
             customer_id: str | None, limit: int) -> list[OutboxMessage]:
        found = [m for m in self._messages.rows.values()
                 if (status is None or m.status == status)
                 and (campaign_id is None or m.campaign_id == campaign_id)
                 and (customer_id is None or m.customer_id == customer_id)]
        return [_own(m) for m in sorted(found, key=lambda m: (m.created_at, m.id))[:limit]]

    def recent(self, customer_id: str, since: datetime) -> list[OutboxMessage]:
        return [_own(m) for m in self._messages.rows.values()
                if m.customer_id == customer_id and _recent(m, since)]

    def timeline(self, customer_id: str, *, before: Before | None, limit: int
                 ) -> list[OutboxMessage]:
        mine = (m for m in self._messages.rows.values() if m.customer_id == customer_id)
        return [_own(m) for m in newest_first(mine, lambda m: (m.created_at, m.id),
                                              before, limit)]

    def counts(self, campaign_id: str | None) -> dict[str, int]:
        return dict(Counter(str(m.status) for m in self._messages.rows.values()
                            if campaign_id is None or m.campaign_id == campaign_id))


def _recent(message: OutboxMessage, since: datetime) -> bool:
    if message.status == MessageStatus.SENDING:
        return True
    return (message.status == MessageStatus.SENT and message.sent_at is not None
            and message.sent_at >= since)
