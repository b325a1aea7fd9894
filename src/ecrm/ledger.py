"""Posting points transactions inside a unit of work: the shared core of ``crm.loyalty``
and of the programme's automatic earnings and clawbacks.

Callers lock the customer row before calling in here (see :func:`resolve_customer`), so
that concurrent writers for one customer queue and each sees the others' lots.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecrm.backends.base import UnitOfWork
from ecrm.domain import loyalty as rules
from ecrm.domain.ids import new_id
from ecrm.domain.loyalty import PointLot, PointsTransaction, TransactionKind
from ecrm.errors import ConflictError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The idempotency scope of every points write.
SCOPE = "points"

Effect = Callable[[UnitOfWork, str, datetime], PointsTransaction]


class Ledger:
    """Writes points transactions, once per idempotency key."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def once(self, uow: UnitOfWork, key: str, request: dict[str, Any], customer_id: str,
             effect: Effect) -> PointsTransaction:
        """Run ``effect`` for the (locked) customer unless ``key`` was claimed: a replay of
        the same request returns the first result; another request raises ConflictError."""
        digest = rules.fingerprint(request)
        claimed = uow.idempotency.get(SCOPE, key)
        if claimed is not None:
            return self._replay(uow, key, digest, claimed)
        now = self._crm.clock.now()
        tx = effect(uow, customer_id, now)
        uow.idempotency.claim(SCOPE, key, digest, tx.id, now)
        return tx

    def credit(self, uow: UnitOfWork, customer_id: str, points: int, now: datetime, *,
               kind: TransactionKind = TransactionKind.EARN, available_at: datetime | None
               = None, expires_at: datetime | None = None, reason: str | None = None,
               reference: str | None = None) -> PointsTransaction:
        """Give points: they repay any debt first, the rest forms a new lot."""
        tx, lot = rules.credit(new_id(), new_id(), customer_id, kind, points, now,
                               available_at=available_at or now, expires_at=expires_at,
                               reason=reason, reference=reference,
                               debt=uow.loyalty.debt(customer_id))
        return self.store(uow, tx, new_lot=lot)

    def debit(self, uow: UnitOfWork, customer_id: str, points: int, now: datetime, *,
              kind: TransactionKind, reason: str | None, reference: str | None
              ) -> PointsTransaction:
        """Take spendable points, soonest-expiring lots first."""
        lots = uow.loyalty.lots(customer_id)
        tx = rules.debit(new_id(), customer_id, kind, points, lots, now, reason=reason,
                         reference=reference, debt=uow.loyalty.debt(customer_id))
        return self.store(uow, tx, lots={lot.id: lot for lot in lots})

    def store(self, uow: UnitOfWork, tx: PointsTransaction, *, new_lot: PointLot | None = None,
              lots: dict[str, PointLot] | None = None) -> PointsTransaction:
        """Write ``tx``, its new lot and the lots it drew on; notify after commit."""
        uow.loyalty.add_transaction(tx)
        if new_lot is not None:
            uow.loyalty.add_lot(new_lot)
        uow.loyalty.update_lots(rules.apply_uses(lots or {}, tx.lot_uses))
        self._crm.notify_after_commit(uow, "ecrm_points_changed", transaction=tx)
        return tx

    def _replay(self, uow: UnitOfWork, key: str, digest: str, claimed: tuple[str, str]
                ) -> PointsTransaction:
        fingerprint, result_id = claimed
        if fingerprint != digest:
            raise ConflictError(f"idempotency key {key!r} was used for another request")
        stored = uow.loyalty.get_transaction(result_id)
        assert stored is not None
        return stored
