"""SQL repository of member tiers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import _TenantScoped
from ecrm.domain.tiers import ChangeReason, TierChange, TierStatus

_status = tables.tier_status
_changes = tables.tier_changes


class SQLTierRepository(_TenantScoped):
    """Tier statuses in ``ecrm_tier_status``, changes in ``ecrm_tier_changes``."""

    def status(self, customer_id: str) -> TierStatus | None:
        row = self._conn.execute(select(_status).where(
            self._mine(_status), _status.c.customer_id == customer_id)).mappings().first()
        return None if row is None else _status_from_row(row)

    def put_status(self, status: TierStatus) -> None:
        self._upsert(_status, {"customer_id": status.customer_id},
                     {"tier": status.tier, "since": status.since,
                      "valid_until": status.valid_until, "floor": status.floor})

    def delete_status(self, customer_id: str) -> None:
        self._conn.execute(delete(_status).where(self._mine(_status),
                                                 _status.c.customer_id == customer_id))

    def add_change(self, change: TierChange) -> None:
        self._conn.execute(insert(_changes), {
            "tenant_id": self._tenant, "id": change.id, "customer_id": change.customer_id,
            "from_tier": change.from_tier, "to_tier": change.to_tier,
            "reason": change.reason.value, "changed_at": change.changed_at,
            "qualifying": None if change.qualifying is None else str(change.qualifying)})

    def changes(self, customer_id: str) -> list[TierChange]:
        query = (select(_changes).where(self._mine(_changes),
                                        _changes.c.customer_id == customer_id)
                 .order_by(_changes.c.changed_at, _changes.c.id))
        return [_change_from_row(row) for row in self._conn.execute(query).mappings()]

    def due_for_review(self, before: datetime, limit: int) -> list[str]:
        query = (select(_status.c.customer_id)
                 .where(self._mine(_status), _status.c.valid_until <= before)
                 .order_by(_status.c.customer_id).limit(limit))
        return list(self._conn.execute(query).scalars())


def _status_from_row(row: Mapping[str, Any]) -> TierStatus:
    return TierStatus(customer_id=row["customer_id"], tier=row["tier"], since=row["since"],
                      valid_until=row["valid_until"], floor=row["floor"])


def _change_from_row(row: Mapping[str, Any]) -> TierChange:
    qualifying = row["qualifying"]
    return TierChange(id=row["id"], customer_id=row["customer_id"], from_tier=row["from_tier"],
                      to_tier=row["to_tier"], reason=ChangeReason(row["reason"]),
                      changed_at=row["changed_at"],
                      qualifying=None if qualifying is None else Decimal(qualifying))
