"""The points ledger: value classes and the pure rules of earning, spending, expiring and
reversing points.

Every change is a transaction of entries that sum to zero across accounts: the customer's
wallet and three system accounts. So ``issued = outstanding + redeemed + expired`` holds by
construction. Points sit in lots (one per earn) with a time they become spendable and an
optional expiry; spending takes the soonest-expiring lots first.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ecrm.errors import ConflictError, ValidationError

#: Accounts of the double-entry ledger. The customer's own account is ``CUSTOMER``.
CUSTOMER = "customer"
ISSUED = "system:issued"
REDEEMED = "system:redeemed"
EXPIRED = "system:expired"

MAX_POINTS = 10**12


class TransactionKind(str, enum.Enum):
    """What a points transaction did."""

    EARN = "earn"
    REDEEM = "redeem"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REVERSE = "reverse"
    CLAWBACK = "clawback"


class ClawbackPolicy(str, enum.Enum):
    """What a refund does when the points it takes back were already spent."""

    #: Take back everything; what the lots cannot cover becomes a points debt that later
    #: earnings repay first.
    ALLOW_NEGATIVE = "allow_negative"
    #: Take back what the lots hold; forgive the rest and record it as written off.
    CAP_AT_ZERO = "cap_at_zero"


@attrs.frozen
class PointLot:
    """Points earned together: spendable from ``available_at`` until ``expires_at``
    (never, when None). ``remaining`` is what is left of ``amount``."""

    id: str
    customer_id: str
    transaction_id: str
    amount: int
    remaining: int
    earned_at: datetime
    available_at: datetime
    expires_at: datetime | None = None

    def spendable(self, now: datetime) -> bool:
        """True when the lot may be spent at ``now``."""
        return self.available_at <= now and not self.expired(now)

    def expired(self, now: datetime) -> bool:
        """True when the lot's expiry has passed at ``now``."""
        return self.expires_at is not None and self.expires_at <= now


@attrs.frozen
class LedgerEntry:
    """One leg of a transaction: ``points`` into ``account`` (negative: out of it)."""

    account: str
    points: int


@attrs.frozen
class LotUse:
    """``points`` taken from (or, when negative, given back to) lot ``lot_id``."""

    lot_id: str
    points: int


@attrs.frozen
class PointsTransaction:
    """One change of a customer's points. ``points`` is the effect on the customer's
    balance (positive: more points). ``entries`` balance to zero.

    ``debt`` is the change of the customer's points debt (positive: a clawback took back
    points already spent; negative: an earning repaid debt). ``written_off`` is what a
    clawback could not take back and forgave."""

    id: str
    customer_id: str
    kind: TransactionKind
    points: int
    occurred_at: datetime
    # Kept in a canonical order (by account, by lot id) so equal transactions compare equal
    # however a backend reads them back.
    entries: tuple[LedgerEntry, ...] = attrs.field(
        converter=lambda items: tuple(sorted(items, key=lambda e: e.account)))
    lot_uses: tuple[LotUse, ...] = attrs.field(
        default=(), converter=lambda items: tuple(sorted(items, key=lambda u: u.lot_id)))
    reason: str | None = None
    reference: str | None = None
    reverses_id: str | None = None
    debt: int = 0
    written_off: int = 0


@attrs.frozen
class PointsBalance:
    """A customer's points at ``as_of``: ``total`` is what the lots hold less ``debt``
    (negative while a debt exceeds them); ``spendable`` now and ``pending`` not yet (e.g.
    inside an order's return window)."""

    customer_id: str
    total: int
    spendable: int
    pending: int
    as_of: datetime
    debt: int = 0


@attrs.frozen
class LedgerTotals:
    """The tenant's whole ledger: ``issued == outstanding + redeemed + expired``."""

    issued: int
    outstanding: int
    redeemed: int
    expired: int


def positive_points(field: str, value: object) -> int:
    """A whole number of points greater than zero."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"points are whole numbers, got {type(value).__name__}")
    if value <= 0:
        raise ValidationError(field, f"must be greater than zero, got {value}")
    if value > MAX_POINTS:
        raise ValidationError(field, f"at most {MAX_POINTS}")
    return value


def bonus_points(field: str) -> Callable[[object], int]:
    """A converter to a whole number of points, zero allowed (a bonus switched off)."""
    def convert(value: object) -> int:
        if value == 0 and type(value) is int:
            return 0
        return positive_points(field, value)

    return convert


def credit(tx_id: str, lot_id: str, customer_id: str, kind: TransactionKind, points: int,
           now: datetime, *, available_at: datetime, expires_at: datetime | None,
           reason: str | None, reference: str | None, debt: int = 0
           ) -> tuple[PointsTransaction, PointLot | None]:
    """Give ``points`` (earn, or a positive adjustment): they repay the customer's ``debt``
    first, and the rest forms a new lot (None when nothing is left for one)."""
    if expires_at is not None and expires_at <= max(available_at, now):
        raise ValidationError("expires_at", "must be after now and after the points become "
                                            "spendable")
    repaid = min(points, debt)
    kept = points - repaid
    lot = (PointLot(lot_id, customer_id, tx_id, kept, kept, now, available_at, expires_at)
           if kept else None)
    tx = PointsTransaction(
        id=tx_id, customer_id=customer_id, kind=kind, points=points, occurred_at=now,
        entries=(LedgerEntry(CUSTOMER, points), LedgerEntry(ISSUED, -points)),
        lot_uses=(LotUse(lot_id, -kept),) if lot else (), reason=reason, reference=reference,
        debt=-repaid)
    return tx, lot


def debit(tx_id: str, customer_id: str, kind: TransactionKind, points: int, lots: Sequence[
          PointLot], now: datetime, *, reason: str | None, reference: str | None,
          debt: int = 0) -> PointsTransaction:
    """Take ``points`` from the spendable lots, soonest-expiring first (lots that never
    expire last). ``kind`` REDEEM pays into the redeemed account; ADJUST un-issues."""
    uses = spend_order(lots, points, now, debt)
    sink = REDEEMED if kind is TransactionKind.REDEEM else ISSUED
    return PointsTransaction(
        id=tx_id, customer_id=customer_id, kind=kind, points=-points, occurred_at=now,
        entries=(LedgerEntry(CUSTOMER, -points), LedgerEntry(sink, points)),
        lot_uses=uses, reason=reason, reference=reference)


def spend_order(lots: Sequence[PointLot], points: int, now: datetime, debt: int = 0
                ) -> tuple[LotUse, ...]:
    """Which lots pay for ``points``; ValidationError when the spendable balance (less any
    debt) is short."""
    usable = sorted((lot for lot in lots if lot.remaining > 0 and lot.spendable(now)),
                    key=spend_priority)
    available = max(0, sum(lot.remaining for lot in usable) - debt)
    if points > available:
        raise ValidationError("points", f"{points} exceeds the {available} spendable points")
    uses, left = [], points
    for lot in usable:
        take = min(left, lot.remaining)
        uses.append(LotUse(lot.id, take))
        left -= take
        if not left:
            break
    return tuple(uses)


def expire(tx_id: str, customer_id: str, lots: Iterable[PointLot], now: datetime
           ) -> PointsTransaction | None:
    """The transaction expiring every lot past its expiry with points left, or None."""
    uses = tuple(LotUse(lot.id, lot.remaining) for lot in lots
                 if lot.remaining > 0 and lot.expired(now))
    points = sum(use.points for use in uses)
    if not points:
        return None
    return PointsTransaction(
        id=tx_id, customer_id=customer_id, kind=TransactionKind.EXPIRE, points=-points,
        occurred_at=now, entries=(LedgerEntry(CUSTOMER, -points), LedgerEntry(EXPIRED, points)),
        lot_uses=uses, reason="expired")


def reverse(tx_id: str, original: PointsTransaction, lots: Mapping[str, PointLot],
            now: datetime, *, reason: str | None) -> PointsTransaction:
    """Undo ``original``: negated entries, lots given back or taken back.

    Points of an earn that were already spent cannot be taken back here.
    """
    if original.kind in (TransactionKind.EXPIRE, TransactionKind.REVERSE,
                         TransactionKind.CLAWBACK):
        raise ConflictError(f"{original.kind.value} transactions cannot be reversed")
    for use in original.lot_uses:
        if use.points < 0 and lots[use.lot_id].remaining < -use.points:
            raise ConflictError(
                f"points of transaction {original.id} were already spent or expired")
    return PointsTransaction(
        id=tx_id, customer_id=original.customer_id, kind=TransactionKind.REVERSE,
        points=-original.points, occurred_at=now,
        entries=tuple(LedgerEntry(e.account, -e.points) for e in original.entries),
        lot_uses=tuple(LotUse(u.lot_id, -u.points) for u in original.lot_uses),
        reason=reason, reference=original.id, reverses_id=original.id, debt=-original.debt)


def apply_uses(lots: Mapping[str, PointLot], uses: Iterable[LotUse]) -> list[PointLot]:
    """The lots after ``uses`` (a negative use gives points back, up to the lot's amount)."""
    changed = []
    for use in uses:
        if use.lot_id not in lots:
            continue  # a lot created by this transaction is stored as created
        lot = lots[use.lot_id]
        remaining = lot.remaining - use.points
        if not 0 <= remaining <= lot.amount:
            raise ConflictError(f"lot {lot.id} cannot hold {remaining} points")
        changed.append(attrs.evolve(lot, remaining=remaining))
    return changed


def balance(customer_id: str, lots: Iterable[PointLot], now: datetime, debt: int = 0
            ) -> PointsBalance:
    """Total, spendable and pending points of the lots held, less ``debt``. ``total``
    equals the sum of the customer's ledger entries, so it still counts lots past their
    expiry until ``expire_due`` runs; ``spendable`` never does."""
    held = [lot for lot in lots if lot.remaining > 0]
    spendable = max(0, sum(lot.remaining for lot in held if lot.spendable(now)) - debt)
    pending = sum(lot.remaining for lot in held if lot.available_at > now)
    return PointsBalance(customer_id, sum(lot.remaining for lot in held) - debt, spendable,
                         pending, now, debt)


def clawback(tx_id: str, customer_id: str, points: int, lots: Sequence[PointLot],
             now: datetime, *, policy: ClawbackPolicy, first_lot_id: str | None,
             reference: str, reason: str) -> PointsTransaction:
    """Take back ``points`` an order earned: from the order's own lot first
    (``first_lot_id``), then from the customer's other lots, pending ones included, in
    spending order. What the lots cannot cover becomes debt or is written off, by
    ``policy``."""
    held = sorted((lot for lot in lots if lot.remaining > 0),
                  key=lambda lot: (lot.id != first_lot_id, spend_priority(lot)))
    uses, left = [], points
    for lot in held:
        if not left:
            break
        take = min(left, lot.remaining)
        uses.append(LotUse(lot.id, take))
        left -= take
    owed = left if policy is ClawbackPolicy.ALLOW_NEGATIVE else 0
    taken = points - left + owed
    return PointsTransaction(
        id=tx_id, customer_id=customer_id, kind=TransactionKind.CLAWBACK, points=-taken,
        occurred_at=now,
        entries=(LedgerEntry(CUSTOMER, -taken), LedgerEntry(ISSUED, taken)) if taken else (),
        lot_uses=tuple(uses), reason=reason, reference=reference, debt=owed,
        written_off=left - owed)


def ledger_totals(sums: Mapping[str, int]) -> LedgerTotals:
    """:class:`LedgerTotals` from the sum of each account's entries."""
    return LedgerTotals(issued=-sums.get(ISSUED, 0), outstanding=sums.get(CUSTOMER, 0),
                        redeemed=sums.get(REDEEMED, 0), expired=sums.get(EXPIRED, 0))


def fingerprint(request: Mapping[str, Any]) -> str:
    """A stable digest of an idempotent request, to tell a replay from a reused key."""
    canonical = json.dumps(request, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def spend_priority(lot: PointLot) -> tuple[bool, datetime, datetime, str]:
    """Sort key of the spending order: soonest expiry first, never-expiring lots last."""
    never = lot.expires_at is None
    return (never, lot.expires_at or lot.earned_at, lot.earned_at, lot.id)
