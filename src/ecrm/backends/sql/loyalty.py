"""SQL repositories of the points ledger and of idempotency keys."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import (
    IN_CHUNK,
    TENANT,
    _TenantScoped,
    tenant_of,
)
from ecrm.batching import chunks
from ecrm.domain.loyalty import (
    LedgerEntry,
    LedgerTotals,
    LotUse,
    PointLot,
    PointsTransaction,
    TransactionKind,
    ledger_totals,
)
from ecrm.domain.timeline import Before

_tx = tables.point_transactions
_entries = tables.point_entries
_lots = tables.point_lots
_uses = tables.point_lot_uses
_keys = tables.idempotency_keys

# The statements of every earn and redeem, built once (see ``tenant_of``).
_INSERT_KEY = insert(_keys)
_GET_KEY = select(_keys.c.fingerprint, _keys.c.result_id).where(
    tenant_of(_keys), _keys.c.scope == bindparam("scope"), _keys.c.key == bindparam("key"))
_INSERT_TX = insert(_tx)
_INSERT_ENTRIES = insert(_entries)
_INSERT_USES = insert(_uses)
_INSERT_LOT = insert(_lots)
_UPDATE_REMAINING = (update(_lots)
                     .where(tenant_of(_lots), _lots.c.id == bindparam("lot_id"))
                     .values(remaining=bindparam("new_remaining")))
_HELD_LOTS = select(_lots).where(tenant_of(_lots), _lots.c.remaining > 0,
                                 _lots.c.customer_id == bindparam("customer_id"))
_LOT_COLUMNS = tuple(_HELD_LOTS.selected_columns.keys())
_DEBT = select(func.coalesce(func.sum(_tx.c.debt), 0)).where(
    tenant_of(_tx), _tx.c.customer_id == bindparam("customer_id"), _tx.c.debt != 0)


class SQLIdempotencyRepository(_TenantScoped):
    """Idempotency keys in ``ecrm_idempotency_keys``."""

    def claim(self, scope: str, key: str, fingerprint: str, result_id: str,
              at: datetime) -> None:
        self._write(_INSERT_KEY, {
            "tenant_id": self._tenant, "scope": scope, "key": key,
            "fingerprint": fingerprint, "result_id": result_id, "created_at": at})

    def get(self, scope: str, key: str) -> tuple[str, str] | None:
        found = self._rows(_GET_KEY, scope=scope, key=key)
        return (found[0][0], found[0][1]) if found else None


class SQLLoyaltyRepository(_TenantScoped):
    """The points ledger in ``ecrm_point_*`` tables."""

    def add_transaction(self, transaction: PointsTransaction) -> None:
        t = self._tenant
        self._write(_INSERT_TX, {
            "tenant_id": t, "id": transaction.id, "customer_id": transaction.customer_id,
            "kind": transaction.kind.value, "points": transaction.points,
            "occurred_at": transaction.occurred_at, "reason": transaction.reason,
            "reference": transaction.reference, "reverses_id": transaction.reverses_id,
            "debt": transaction.debt, "written_off": transaction.written_off})
        if transaction.entries:
            self._write(_INSERT_ENTRIES, [
                {"tenant_id": t, "transaction_id": transaction.id, "account": e.account,
                 "points": e.points} for e in transaction.entries])
        if transaction.lot_uses:
            self._write(_INSERT_USES, [
                {"tenant_id": t, "transaction_id": transaction.id, "lot_id": u.lot_id,
                 "points": u.points} for u in transaction.lot_uses])

    def add_lot(self, lot: PointLot) -> None:
        self._write(_INSERT_LOT, {
            "tenant_id": self._tenant, "id": lot.id, "customer_id": lot.customer_id,
            "transaction_id": lot.transaction_id, "amount": lot.amount,
            "remaining": lot.remaining, "earned_at": lot.earned_at,
            "available_at": lot.available_at, "expires_at": lot.expires_at})

    def update_lots(self, lots: Iterable[PointLot]) -> None:
        params = [{TENANT: self._tenant, "lot_id": lot.id, "new_remaining": lot.remaining}
                  for lot in lots]
        if params:
            self._write(_UPDATE_REMAINING, params)

    def lots(self, customer_id: str) -> list[PointLot]:
        return _sorted_lots(self._rows(_HELD_LOTS, customer_id=customer_id))

    def lots_by_id(self, lot_ids: Collection[str]) -> dict[str, PointLot]:
        found: dict[str, PointLot] = {}
        for batch in chunks(set(lot_ids), IN_CHUNK):
            found.update({lot.id: lot for lot in self._lots_where(_lots.c.id.in_(batch))})
        return found

    def lots_of(self, customer_id: str) -> list[PointLot]:
        return self._lots_where(_lots.c.customer_id == customer_id)

    def get_transaction(self, transaction_id: str) -> PointsTransaction | None:
        found = self._transactions_where(_tx.c.id == transaction_id)
        return found[0] if found else None

    def transactions(self, customer_id: str) -> list[PointsTransaction]:
        return self._transactions_where(_tx.c.customer_id == customer_id)

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 kinds: Collection[str] | None) -> list[PointsTransaction]:
        ids = list(self._conn.execute(self._timeline_slice(
            _tx.c.id, _tx, time=_tx.c.occurred_at, row_id=_tx.c.id, customer_id=customer_id,
            before=before, limit=limit, only={_tx.c.kind: kinds})).scalars())
        if not ids:
            return []
        return self._transactions_where(_tx.c.id.in_(ids))[::-1]

    def is_reversed(self, transaction_id: str) -> bool:
        query = select(_tx.c.id).where(self._mine(_tx), _tx.c.reverses_id == transaction_id)
        return self._conn.execute(query.limit(1)).first() is not None

    def debt(self, customer_id: str) -> int:
        return int(self._rows(_DEBT, customer_id=customer_id)[0][0])

    def customers_with_expired_lots(self, now: datetime, limit: int) -> list[str]:
        query = (select(_lots.c.customer_id).distinct()
                 .where(self._mine(_lots), _lots.c.remaining > 0, _lots.c.expires_at <= now)
                 .order_by(_lots.c.customer_id).limit(limit))
        return list(self._conn.execute(query).scalars())

    def totals(self) -> LedgerTotals:
        query = (select(_entries.c.account, func.sum(_entries.c.points))
                 .where(self._mine(_entries)).group_by(_entries.c.account))
        return ledger_totals({account: int(total) for account, total in
                              self._conn.execute(query)})

    def _lots_where(self, *conditions: ColumnElement[bool]) -> list[PointLot]:
        return _sorted_lots(self._conn.execute(
            select(_lots).where(self._mine(_lots), *conditions)))

    def _transactions_where(self, condition: ColumnElement[bool]) -> list[PointsTransaction]:
        rows = list(self._conn.execute(
            select(_tx).where(self._mine(_tx), condition)
            .order_by(_tx.c.occurred_at, _tx.c.id)).mappings())
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        entries = self._children(_entries, ids, _entries.c.account)
        uses = self._children(_uses, ids, _uses.c.lot_id)
        return [_transaction_from_rows(row, entries.get(row["id"], ()), uses.get(row["id"], ()))
                for row in rows]

    def _children(self, table: Any, ids: list[str], order: Any
                  ) -> dict[str, list[Mapping[str, Any]]]:
        found: dict[str, list[Mapping[str, Any]]] = {}
        for batch in chunks(ids, IN_CHUNK):
            query = (select(table).where(self._mine(table), table.c.transaction_id.in_(batch))
                     .order_by(table.c.transaction_id, order))
            rows = self._conn.execute(query).mappings()
            for tx_id, group in groupby(rows, lambda r: r["transaction_id"]):
                found[tx_id] = list(group)
        return found


def _sorted_lots(rows: Iterable[Sequence[Any]]) -> list[PointLot]:
    """The lots in ``rows`` (of ``select(_lots)``) by id. Sorted here rather than by
    ``ORDER BY id``: SQLite would serve that from the primary key and walk every lot of
    the tenant instead of using the customer index (``Key`` sorts byte by byte, as
    Python does)."""
    return sorted((_lot_from_row(dict(zip(_LOT_COLUMNS, row, strict=True))) for row in rows),
                  key=_lot_id)


def _lot_id(lot: PointLot) -> str:
    return lot.id


def _lot_from_row(row: Mapping[str, Any]) -> PointLot:
    return PointLot(id=row["id"], customer_id=row["customer_id"],
                    transaction_id=row["transaction_id"], amount=row["amount"],
                    remaining=row["remaining"], earned_at=row["earned_at"],
                    available_at=row["available_at"], expires_at=row["expires_at"])


def _transaction_from_rows(row: Mapping[str, Any], entries: Iterable[Mapping[str, Any]],
                           uses: Iterable[Mapping[str, Any]]) -> PointsTransaction:
    return PointsTransaction(
        id=row["id"], customer_id=row["customer_id"], kind=TransactionKind(row["kind"]),
        points=row["points"], occurred_at=row["occurred_at"],
        entries=tuple(LedgerEntry(e["account"], e["points"]) for e in entries),
        lot_uses=tuple(LotUse(u["lot_id"], u["points"]) for u in uses),
        reason=row["reason"], reference=row["reference"], reverses_id=row["reverses_id"],
        debt=row["debt"], written_off=row["written_off"])
