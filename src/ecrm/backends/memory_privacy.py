"""Erasure and retention for the memory backend: the ``erased_*`` rules of
:mod:`ecrm.domain.privacy` applied to each table's rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecrm.domain import privacy as rules
from ecrm.domain.customers import CustomerMerge
from ecrm.domain.outbox import MessageStatus
from ecrm.domain.privacy import Redaction

if TYPE_CHECKING:
    from ecrm.backends.memory import _Table, _TenantData

FINISHED = (MessageStatus.SENT, MessageStatus.DEAD, MessageStatus.CANCELLED)


class MemoryPrivacyRepository:
    """Erasure across the tenant's tables; records in a table of their own."""

    def __init__(self, data: _TenantData) -> None:
        self._data = data

    def erase_records(self, customer_id: str) -> dict[str, int]:
        data = self._data
        erasures: list[tuple[str, _Table, Callable[[Any], Any]]] = [
            ("interactions", data.interactions, rules.erased_interaction),
            ("cases", data.cases, rules.erased_case),
            ("case_messages", data.case_messages, rules.erased_case_message),
            ("case_surveys", data.case_surveys, rules.erased_survey),
            ("point_transactions", data.point_transactions, rules.erased_transaction),
            ("consent_changes", data.consent_changes, rules.erased_consent_change),
            ("outbox", data.outbox, rules.erased_message),
        ]
        self._forget_message_sources(customer_id)
        removed = {name: _rewrite(table, customer_id, erase) for name, table, erase in erasures}
        orders = _keys_of(data.orders, customer_id)
        removed["refunds"] = _rewrite_children(data.refunds, "order_id", orders,
                                               rules.erased_refund)
        cases = _keys_of(data.cases, customer_id)
        removed["case_status_changes"] = _rewrite_children(
            data.case_status_changes, "case_id", cases, rules.erased_status_change)
        return removed

    def recipients(self, customer_id: str) -> set[tuple[str, str]]:
        return {(m.channel, m.recipient) for m in self._data.outbox.rows.values()
                if m.customer_id == customer_id}

    def replace_merge(self, merge: CustomerMerge) -> None:
        self._data.merges.update(merge.duplicate_id, merge)

    def add_redaction(self, redaction: Redaction) -> None:
        self._data.redactions.insert(redaction.id, redaction)

    def redactions(self, customer_id: str) -> list[Redaction]:
        found = [r for r in self._data.redactions.rows.values() if r.customer_id == customer_id]
        return sorted(found, key=lambda r: (r.erased_at, r.id))

    def delete_messages(self, before: datetime, limit: int) -> int:
        outbox = self._data.outbox
        old = [key for key, m in outbox.rows.items()
               if m.status in FINISHED and m.created_at < before][:limit]
        for key in old:
            outbox.delete(key)
        return len(old)

    def _forget_message_sources(self, customer_id: str) -> None:
        """Drop the external-id index entries of the messages whose ids are erased."""
        sources = self._data.case_message_sources
        for message in self._data.case_messages.rows.values():
            if message.customer_id == customer_id and message.external_id is not None:
                sources.delete(f"{message.channel} {message.external_id}")


def _rewrite(table: _Table, customer_id: str, erase: Callable[[Any], Any]) -> int:
    mine = [(key, row) for key, row in table.rows.items() if row.customer_id == customer_id]
    for key, row in mine:
        table.update(key, erase(row))
    return len(mine)


def _keys_of(table: _Table, customer_id: str) -> set[str]:
    return {key for key, row in table.rows.items() if row.customer_id == customer_id}


def _rewrite_children(table: _Table, link: str, parents: set[str],
                      erase: Callable[[Any], Any]) -> int:
    mine = [(key, row) for key, row in table.rows.items() if getattr(row, link) in parents]
    for key, row in mine:
        table.update(key, erase(row))
    return len(mine)
