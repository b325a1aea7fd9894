"""MemoryBackend: everything in Python dicts, for tests, demos and small tools.

Units of work are serialised by one lock and undone from a journal on failure, so the
backend keeps the same all-or-nothing promise as a database.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import attrs

from ecrm.backends.base import Capability, CustomerKey
from ecrm.backends.memory_analytics import MemoryAnalyticsQueries
from ecrm.backends.memory_audit import MemoryAuditRepository
from ecrm.backends.memory_automation import MemoryAutomationQueries, MemoryJourneyRepository
from ecrm.backends.memory_campaigns import MemoryCampaignRepository
from ecrm.backends.memory_cases import MemoryCaseRepository
from ecrm.backends.memory_consent import MemoryConsentRepository, MemorySuppressionRepository
from ecrm.backends.memory_outbox import MemoryOutboxRepository
from ecrm.backends.memory_privacy import MemoryPrivacyRepository
from ecrm.backends.memory_recommendations import MemoryRecommendationRepository
from ecrm.backends.memory_segment_query import MemorySegmentQuery
from ecrm.backends.memory_segments import MemorySegmentRepository
from ecrm.domain.coupons import Coupon, CouponIssue, CouponRedemption
from ecrm.domain.customers import Account, Customer, CustomerMerge
from ecrm.domain.interactions import Interaction
from ecrm.domain.loyalty import LedgerTotals, PointLot, PointsTransaction, ledger_totals
from ecrm.domain.orders import CustomerOrderSummary, Order, OrderStatus, Refund, summarize
from ecrm.domain.referrals import Referral
from ecrm.domain.tiers import TierChange, TierStatus
from ecrm.domain.timeline import Before, newest_first
from ecrm.errors import DuplicateKey

Row = TypeVar("Row", Customer, Account)


class _Table:
    """A dict of rows with unique secondary keys, writing through the unit's journal."""

    def __init__(self, name: str, journal: list[Callable[[], None]],
                 unique: tuple[str, ...] = ()) -> None:
        self.name = name
        self.journal = journal
        self.rows: dict[str, Any] = {}
        # field -> value -> primary key
        self.unique: dict[str, dict[Any, str]] = {field: {} for field in unique}

    def insert(self, key: str, row: Any) -> None:
        if key in self.rows:
            raise DuplicateKey(f"{self.name}.id", key)
        self._check_unique(key, row)
        self._put(key, row)
        self._log(lambda: self._remove(key))

    def update(self, key: str, row: Any) -> None:
        old = self.rows[key]
        self._check_unique(key, row)
        self._remove(key)
        self._put(key, row)

        def undo() -> None:
            self._remove(key)
            self._put(key, old)

        self._log(undo)

    def delete(self, key: str) -> None:
        old = self.rows[key]
        self._remove(key)
        self._log(lambda: self._put(key, old))

    def lookup(self, field: str, value: object) -> Any | None:
        key = self.unique[field].get(value)
        return None if key is None else self.rows[key]

    def _check_unique(self, key: str, row: Any) -> None:
        for field, index in self.unique.items():
            value = getattr(row, field)
            if value is not None and index.get(value, key) != key:
                raise DuplicateKey(f"{self.name}.{field}")  # not the value: personal data

    def _put(self, key: str, row: Any) -> None:
        self.rows[key] = row
        for field, index in self.unique.items():
            value = getattr(row, field)
            if value is not None:
                index[value] = key

    def _remove(self, key: str) -> None:
        row = self.rows.pop(key)
        for field, index in self.unique.items():
            value = getattr(row, field)
            if value is not None and index.get(value) == key:
                del index[value]

    def _log(self, undo: Callable[[], Any]) -> None:
        self.journal.append(undo)


class _TenantData:
    """All tables of one tenant, the undo journal of its open units of work, and the
    notifications waiting for the outermost unit to finish."""

    def __init__(self) -> None:
        self.journal: list[Callable[[], None]] = []
        self.callbacks: list[Callable[[], None]] = []
        self.depth = 0
        self.customers = _Table("customers", self.journal, unique=("email", "external_id"))
        self.accounts = _Table("accounts", self.journal, unique=("external_id",))
        self.merges = _Table("customer_merges", self.journal)
        self.orders = _Table("orders", self.journal)
        self.refunds = _Table("refunds", self.journal)
        self.idempotency = _Table("idempotency_keys", self.journal)
        self.point_transactions = _Table("point_transactions", self.journal)
        self.point_lots = _Table("point_lots", self.journal)
        self.tier_status = _Table("tier_status", self.journal)
        self.tier_changes = _Table("tier_changes", self.journal)
        self.coupons = _Table("coupons", self.journal)
        self.coupon_redemptions = _Table("coupon_redemptions", self.journal)
        self.coupon_issues = _Table("coupon_issues", self.journal)
        self.referral_codes = _Table("referral_codes", self.journal)
        self.referrals = _Table("referrals", self.journal)
        self.interactions = _Table("interactions", self.journal)
        # "channel external_id" -> interaction id: the unique external id per channel.
        self.interaction_sources = _Table("interactions.external_id", self.journal)
        self.cases = _Table("cases", self.journal)
        self.case_status_changes = _Table("case_status_changes", self.journal)
        self.case_messages = _Table("case_messages", self.journal)
        # "channel external_id" -> message id: the unique external id per channel.
        self.case_message_sources = _Table("case_messages.external_id", self.journal)
        self.sla_breaches = _Table("sla_breaches", self.journal)
        self.case_surveys = _Table("case_surveys", self.journal)
        self.consents = _Table("consents", self.journal)
        self.consent_changes = _Table("consent_changes", self.journal)
        self.suppressions = _Table("suppressions", self.journal)
        self.redactions = _Table("redactions", self.journal)
        self.outbox = _Table("outbox", self.journal, unique=("key",))
        self.campaigns = _Table("campaigns", self.journal, unique=("name",))
        self.campaign_members = _Table("campaign_members", self.journal)
        self.journeys = _Table("journeys", self.journal, unique=("name",))
        self.journey_enrollments = _Table("journey_enrollments", self.journal)
        self.segments = _Table("segments", self.journal, unique=("name",))
        # segment id -> {customer id: membership}
        self.segment_members = _Table("segment_members", self.journal)
        self.segment_changes = _Table("segment_changes", self.journal)
        self.recommendation_rules = _Table("recommendation_rules", self.journal,
                                           unique=("name",))
        self.association_models = _Table("association_models", self.journal)
        # model name -> everything counted for it, replaced whole on every change
        self.association_counts = _Table("association_counts", self.journal)
        # Not in customer_attached: a merge never rewrites the audit trail.
        self.audit_log = _Table("audit_log", self.journal)

    def customer_attached(self) -> list[tuple[_Table, tuple[str, ...]]]:
        """Tables whose rows carry customer ids that follow a merge, with those fields.
        Not the tier and consent states (their services decide what a merge keeps) nor
        segment members (the merge absorbs them, see ``absorb_member``, as a survivor and
        a duplicate may be members of one segment)."""
        plain = [self.orders, self.point_transactions, self.point_lots, self.tier_changes,
                 self.coupon_redemptions, self.coupon_issues, self.referral_codes,
                 self.interactions, self.cases, self.case_messages, self.case_surveys,
                 self.consent_changes, self.segment_changes, self.outbox,
                 self.journey_enrollments]
        return [(table, ("customer_id",)) for table in plain] + [
            (self.referrals, ("referee_id", "referrer_id"))]

    def undo_since(self, mark: int, callback_mark: int) -> None:
        """Undo every write journaled after ``mark`` and forget later notifications."""
        for undo in reversed(self.journal[mark:]):
            undo()
        del self.journal[mark:]
        del self.callbacks[callback_mark:]

    def finish_outermost(self) -> list[Callable[[], None]]:
        """Forget the journal and hand over the notifications once nothing is open."""
        if self.depth:
            return []
        callbacks = self.callbacks[:]
        self.journal.clear()
        self.callbacks.clear()
        return callbacks


class MemoryBackend:
    """Stores everything in this process. Data is lost when the backend is dropped.

    One lock serialises units of work. A unit opened inside another on the same tenant
    (a hook reading through the CRM, say) behaves like a savepoint: its failure undoes only
    its own writes, and notifications wait for the outermost unit.
    """

    capabilities = Capability.NONE
    can_retry = True

    def __init__(self) -> None:
        self._tenants: dict[str, _TenantData] = {}
        self._lock = threading.RLock()

    def create_schema(self) -> None:
        """Nothing to create: tables appear with their first tenant."""

    def close(self) -> None:
        """Nothing to release."""

    @contextmanager
    def unit_of_work(self, tenant: str, *, read_only: bool = False
                     ) -> Iterator[MemoryUnitOfWork]:
        """Hold the backend's lock for the whole unit; undo its writes on failure."""
        with self._lock:
            data = self._tenants.setdefault(tenant, _TenantData())
            marks = len(data.journal), len(data.callbacks)
            data.depth += 1
            try:
                yield MemoryUnitOfWork(tenant, data)
            except BaseException:
                data.undo_since(*marks)
                raise
            finally:
                data.depth -= 1
            callbacks = data.finish_outermost()
        for callback in callbacks:
            callback()


class MemoryUnitOfWork:
    """A unit of work over one tenant's dicts."""

    def __init__(self, tenant: str, data: _TenantData) -> None:
        self.tenant = tenant
        self.customers = MemoryCustomerRepository(data)
        self.accounts = MemoryAccountRepository(data)
        self.orders = MemoryOrderRepository(data)
        self.interactions = MemoryInteractionRepository(data)
        self.cases = MemoryCaseRepository(data)
        self.loyalty = MemoryLoyaltyRepository(data)
        self.idempotency = MemoryIdempotencyRepository(data)
        self.tiers = MemoryTierRepository(data)
        self.referrals = MemoryReferralRepository(data)
        self.coupons = MemoryCouponRepository(data)
        self.consents = MemoryConsentRepository(data)
        self.suppressions = MemorySuppressionRepository(data)
        self.privacy = MemoryPrivacyRepository(data)
        self.outbox = MemoryOutboxRepository(data)
        self.campaigns = MemoryCampaignRepository(data)
        self.journeys = MemoryJourneyRepository(data)
        self.automation = MemoryAutomationQueries(data)
        self.segment_query = MemorySegmentQuery(data)
        self.segments = MemorySegmentRepository(data)
        self.analytics = MemoryAnalyticsQueries(data)
        self.recommendations = MemoryRecommendationRepository(data)
        self.audit = MemoryAuditRepository(data)
        self._data = data

    def reassign_customer(self, duplicate_id: str, survivor_id: str) -> None:
        """Point every attached row of the duplicate at the survivor."""
        for table, fields in self._data.customer_attached():
            for key, row in list(table.rows.items()):
                moved = {f: survivor_id for f in fields if getattr(row, f) == duplicate_id}
                if moved:
                    table.update(key, attrs.evolve(row, **moved))

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Queue ``callback`` for after the outermost unit succeeds."""
        self._data.callbacks.append(callback)


def _detached(row: Row) -> Row:
    """A copy of a customer or account whose ``attributes`` dict is its own, so callers
    cannot change stored data by mutating what they were given."""
    return attrs.evolve(row, attributes=copy.deepcopy(row.attributes))


def _maybe(row: Row | None) -> Row | None:
    return None if row is None else _detached(row)


class MemoryCustomerRepository:
    """Customers in a dict, with unique e-mail and external id."""

    def __init__(self, data: _TenantData) -> None:
        self._table = data.customers
        self._merges = data.merges

    def add(self, customer: Customer) -> None:
        self._table.insert(customer.id, _detached(customer))

    def add_many(self, customers: Collection[Customer]) -> None:
        for customer in customers:
            self.add(customer)

    def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        return _maybe(self._table.rows.get(customer_id))

    def lock(self, customer_id: str) -> bool:
        return customer_id in self._table.rows

    def find(self, key: CustomerKey, value: str) -> Customer | None:
        if key == "id":
            return self.get(value)
        return _maybe(self._table.lookup(key, value))

    def ids_by(self, key: CustomerKey, values: Collection[str]) -> dict[str, str]:
        rows = self._table.rows
        if key == "id":
            return {v: v for v in values if v in rows}
        index = self._table.unique[key]
        return {v: index[v] for v in values if v in index}

    def get_many(self, customer_ids: Collection[str]) -> dict[str, Customer]:
        rows = self._table.rows
        return {c: _detached(rows[c]) for c in set(customer_ids) if c in rows}

    def replace(self, customer: Customer) -> None:
        self._table.update(customer.id, _detached(customer))

    def delete(self, customer_id: str) -> None:
        self._table.delete(customer_id)

    def page(self, *, after: str | None, limit: int, account_id: str | None) -> list[Customer]:
        rows = self._table.rows
        chosen = sorted(
            c for c in rows
            if (after is None or c > after)
            and (account_id is None or rows[c].account_id == account_id)
        )
        return [_detached(rows[c]) for c in chosen[:limit]]

    def add_merge(self, merge: CustomerMerge) -> None:
        self._merges.insert(merge.duplicate_id,
                            attrs.evolve(merge, duplicate=_detached(merge.duplicate)))

    def merged_into(self, customer_id: str) -> str | None:
        merge = self._merges.rows.get(customer_id)
        return None if merge is None else merge.survivor_id

    def merges_into(self, survivor_id: str) -> list[CustomerMerge]:
        found = [m for m in self._merges.rows.values() if m.survivor_id == survivor_id]
        return [attrs.evolve(m, duplicate=_detached(m.duplicate))
                for m in sorted(found, key=lambda m: (m.merged_at, m.duplicate_id))]


class MemoryAccountRepository:
    """Accounts in a dict, with unique external id."""

    def __init__(self, data: _TenantData) -> None:
        self._table = data.accounts

    def add(self, account: Account) -> None:
        self._table.insert(account.id, _detached(account))

    def get(self, account_id: str) -> Account | None:
        return _maybe(self._table.rows.get(account_id))

    def find_by_external_id(self, external_id: str) -> Account | None:
        return _maybe(self._table.lookup("external_id", external_id))

    def replace(self, account: Account) -> None:
        self._table.update(account.id, _detached(account))


class MemoryOrderRepository:
    """Orders and refunds in dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._orders = data.orders
        self._refunds = data.refunds

    def add(self, order: Order) -> None:
        self._orders.insert(order.order_id, order)

    def add_many(self, orders: Collection[Order]) -> None:
        for order in orders:
            self.add(order)

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        return self._orders.rows.get(order_id)

    def get_many(self, order_ids: Collection[str]) -> dict[str, Order]:
        rows = self._orders.rows
        return {oid: rows[oid] for oid in order_ids if oid in rows}

    def for_customer(self, customer_id: str) -> list[Order]:
        found = [o for o in self._orders.rows.values() if o.customer_id == customer_id]
        return sorted(found, key=lambda o: (o.placed_at, o.order_id))

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None) -> list[Order]:
        mine = (o for o in self._orders.rows.values() if o.customer_id == customer_id
                and (channels is None or o.channel in channels))
        return newest_first(mine, lambda o: (o.placed_at, o.order_id), before, limit)

    def count_for_customer(self, customer_id: str) -> int:
        return sum(1 for o in self._orders.rows.values()
                   if o.customer_id == customer_id and o.status is not OrderStatus.CANCELLED)

    def replace_state(self, order: Order) -> None:
        self._orders.update(order.order_id, order)

    def add_refund(self, refund: Refund) -> None:
        self._refunds.insert(refund.refund_id, refund)

    def get_refund(self, refund_id: str) -> Refund | None:
        return self._refunds.rows.get(refund_id)

    def refunds(self, order_id: str) -> list[Refund]:
        found = [r for r in self._refunds.rows.values() if r.order_id == order_id]
        return sorted(found, key=lambda r: (r.refunded_at, r.refund_id))

    def summary(self, customer_id: str, currency: str) -> CustomerOrderSummary:
        return summarize(customer_id, currency, self.for_customer(customer_id))

    def summaries(self, customer_ids: Iterable[str] | None,
                  currency: str) -> Mapping[str, CustomerOrderSummary]:
        by_customer: dict[str, list[Order]] = {}
        for order in self._orders.rows.values():
            by_customer.setdefault(order.customer_id, []).append(order)
        wanted = by_customer.keys() if customer_ids is None else customer_ids
        return {cid: summarize(cid, currency, by_customer.get(cid, [])) for cid in wanted}


class MemoryIdempotencyRepository:
    """Idempotency keys in a dict keyed by ``scope/key``."""

    def __init__(self, data: _TenantData) -> None:
        self._table = data.idempotency

    def claim(self, scope: str, key: str, fingerprint: str, result_id: str,
              at: datetime) -> None:
        self._table.insert(f"{scope}/{key}", (fingerprint, result_id))

    def get(self, scope: str, key: str) -> tuple[str, str] | None:
        return self._table.rows.get(f"{scope}/{key}")


class MemoryInteractionRepository:
    """Interactions in a dict, with a unique external id per channel."""

    def __init__(self, data: _TenantData) -> None:
        self._table = data.interactions
        self._sources = data.interaction_sources

    def add(self, interaction: Interaction) -> None:
        if interaction.external_id is not None:
            source = _source_key(interaction.channel, interaction.external_id)
            if source in self._sources.rows:
                raise DuplicateKey("interactions.external_id", interaction.external_id)
            self._sources.insert(source, interaction.id)
        self._table.insert(interaction.id, _own_payload(interaction))

    def add_many(self, interactions: Collection[Interaction]) -> None:
        for interaction in interactions:
            self.add(interaction)

    def get(self, interaction_id: str) -> Interaction | None:
        return _maybe_interaction(self._table.rows.get(interaction_id))

    def by_external_id(self, channel: str, external_id: str) -> Interaction | None:
        found = self._sources.rows.get(_source_key(channel, external_id))
        return None if found is None else self.get(found)

    def by_external_ids(self, channel: str, external_ids: Collection[str]
                        ) -> dict[str, Interaction]:
        found = {e: self.by_external_id(channel, e) for e in external_ids}
        return {e: interaction for e, interaction in found.items() if interaction is not None}

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None, kinds: Collection[str] | None
                 ) -> list[Interaction]:
        mine = (i for i in self._table.rows.values() if i.customer_id == customer_id
                and (channels is None or i.channel in channels)
                and (kinds is None or i.kind in kinds))
        found = newest_first(mine, lambda i: (i.occurred_at, i.id), before, limit)
        return [_own_payload(i) for i in found]

    def delete_older(self, before: datetime, *, channels: Collection[str] | None,
                     kinds: Collection[str] | None, limit: int) -> int:
        doomed = [i for i in self._table.rows.values() if i.occurred_at < before
                  and (channels is None or i.channel in channels)
                  and (kinds is None or i.kind in kinds)][:limit]
        for interaction in doomed:
            self._table.delete(interaction.id)
            if interaction.external_id is not None:
                self._sources.delete(_source_key(interaction.channel,
                                                 interaction.external_id))
        return len(doomed)


def _source_key(channel: str, external_id: str) -> str:
    return f"{channel} {external_id}"  # channel names hold no spaces


def _own_payload(interaction: Interaction) -> Interaction:
    """A copy whose payload is its own, so callers cannot change stored data."""
    return attrs.evolve(interaction, payload=copy.deepcopy(dict(interaction.payload)))


def _maybe_interaction(interaction: Interaction | None) -> Interaction | None:
    return None if interaction is None else _own_payload(interaction)


class MemoryLoyaltyRepository:
    """Point transactions and lots in dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._transactions = data.point_transactions
        self._lots = data.point_lots

    def add_transaction(self, transaction: PointsTransaction) -> None:
        self._transactions.insert(transaction.id, transaction)

    def add_lot(self, lot: PointLot) -> None:
        self._lots.insert(lot.id, lot)

    def update_lots(self, lots: Iterable[PointLot]) -> None:
        for lot in lots:
            self._lots.update(lot.id, lot)

    def lots(self, customer_id: str) -> list[PointLot]:
        return [lot for lot in self._lots.rows.values()
                if lot.customer_id == customer_id and lot.remaining > 0]

    def lots_by_id(self, lot_ids: Collection[str]) -> dict[str, PointLot]:
        rows = self._lots.rows
        return {lot_id: rows[lot_id] for lot_id in lot_ids if lot_id in rows}

    def lots_of(self, customer_id: str) -> list[PointLot]:
        return sorted((lot for lot in self._lots.rows.values()
                       if lot.customer_id == customer_id), key=lambda lot: lot.id)

    def get_transaction(self, transaction_id: str) -> PointsTransaction | None:
        return self._transactions.rows.get(transaction_id)

    def transactions(self, customer_id: str) -> list[PointsTransaction]:
        found = [t for t in self._transactions.rows.values() if t.customer_id == customer_id]
        return sorted(found, key=lambda t: (t.occurred_at, t.id))

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 kinds: Collection[str] | None) -> list[PointsTransaction]:
        mine = (t for t in self._transactions.rows.values() if t.customer_id == customer_id
                and (kinds is None or t.kind.value in kinds))
        return newest_first(mine, lambda t: (t.occurred_at, t.id), before, limit)

    def is_reversed(self, transaction_id: str) -> bool:
        return any(t.reverses_id == transaction_id for t in self._transactions.rows.values())

    def debt(self, customer_id: str) -> int:
        return sum(t.debt for t in self._transactions.rows.values()
                   if t.customer_id == customer_id)

    def customers_with_expired_lots(self, now: datetime, limit: int) -> list[str]:
        due = {lot.customer_id for lot in self._lots.rows.values()
               if lot.remaining > 0 and lot.expired(now)}
        return sorted(due)[:limit]

    def totals(self) -> LedgerTotals:
        sums: dict[str, int] = {}
        for transaction in self._transactions.rows.values():
            for entry in transaction.entries:
                sums[entry.account] = sums.get(entry.account, 0) + entry.points
        return ledger_totals(sums)


class MemoryTierRepository:
    """Tier statuses and changes in dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._status = data.tier_status
        self._changes = data.tier_changes

    def status(self, customer_id: str) -> TierStatus | None:
        return self._status.rows.get(customer_id)

    def put_status(self, status: TierStatus) -> None:
        if status.customer_id in self._status.rows:
            self._status.update(status.customer_id, status)
        else:
            self._status.insert(status.customer_id, status)

    def delete_status(self, customer_id: str) -> None:
        if customer_id in self._status.rows:
            self._status.delete(customer_id)

    def add_change(self, change: TierChange) -> None:
        self._changes.insert(change.id, change)

    def changes(self, customer_id: str) -> list[TierChange]:
        found = [c for c in self._changes.rows.values() if c.customer_id == customer_id]
        return sorted(found, key=lambda c: (c.changed_at, c.id))

    def due_for_review(self, before: datetime, limit: int) -> list[str]:
        due = [s.customer_id for s in self._status.rows.values()
               if s.valid_until is not None and s.valid_until <= before]
        return sorted(due)[:limit]


class MemoryCouponRepository:
    """Coupons by code; redemptions and issuances by id."""

    def __init__(self, data: _TenantData) -> None:
        self._coupons = data.coupons
        self._redemptions = data.coupon_redemptions
        self._issues = data.coupon_issues

    def add_many(self, coupons: Collection[Coupon]) -> None:
        for coupon in coupons:
            self._coupons.insert(coupon.code, coupon)

    def get(self, code: str, *, for_update: bool = False) -> Coupon | None:
        return self._coupons.rows.get(code)

    def get_many(self, codes: Collection[str]) -> dict[str, Coupon]:
        rows = self._coupons.rows
        return {code: rows[code] for code in codes if code in rows}

    def update_usage(self, coupon: Coupon) -> None:
        self._coupons.update(coupon.code, coupon)

    def add_redemption(self, redemption: CouponRedemption) -> None:
        if self.get_redemption(redemption.code, redemption.order_id) is not None:
            raise DuplicateKey("coupon_redemptions.order_id", redemption.order_id)
        self._redemptions.insert(redemption.id, redemption)

    def get_redemption(self, code: str, order_id: str) -> CouponRedemption | None:
        return next((r for r in self._redemptions.rows.values()
                     if r.code == code and r.order_id == order_id), None)

    def mark_restored(self, redemption: CouponRedemption) -> None:
        self._redemptions.update(redemption.id, redemption)

    def redemptions(self, code: str) -> list[CouponRedemption]:
        found = [r for r in self._redemptions.rows.values() if r.code == code]
        return sorted(found, key=lambda r: (r.redeemed_at, r.id))

    def customer_uses(self, code: str, customer_id: str) -> int:
        return sum(1 for r in self._redemptions.rows.values()
                   if r.code == code and r.customer_id == customer_id and not r.restored)

    def add_issues(self, issues: Collection[CouponIssue]) -> None:
        for issue in issues:
            self._issues.insert(issue.id, issue)

    def issues(self, code: str, customer_ids: Collection[str]) -> dict[str, CouponIssue]:
        wanted = set(customer_ids)
        found = sorted((i for i in self._issues.rows.values()
                        if i.code == code and i.customer_id in wanted),
                       key=lambda i: (i.issued_at, i.id), reverse=True)
        return {issue.customer_id: issue for issue in found}  # the oldest wins

    def issued_to(self, customer_id: str) -> list[Coupon]:
        mine = sorted((i for i in self._issues.rows.values() if i.customer_id == customer_id),
                      key=lambda i: (i.issued_at, i.id))
        return [self._coupons.rows[issue.code] for issue in mine]

    def issues_of(self, customer_id: str) -> list[CouponIssue]:
        return sorted((i for i in self._issues.rows.values() if i.customer_id == customer_id),
                      key=lambda i: (i.issued_at, i.id))

    def redemptions_of(self, customer_id: str) -> list[CouponRedemption]:
        return sorted((r for r in self._redemptions.rows.values()
                       if r.customer_id == customer_id), key=lambda r: (r.redeemed_at, r.id))


@attrs.frozen
class _ReferralCode:
    code: str
    customer_id: str
    created_at: datetime


class MemoryReferralRepository:
    """Referral codes and referrals in dicts."""

    def __init__(self, data: _TenantData) -> None:
        self._codes = data.referral_codes
        self._referrals = data.referrals

    def add_code(self, code: str, customer_id: str, at: datetime) -> None:
        self._codes.insert(code, _ReferralCode(code, customer_id, at))

    def code_owner(self, code: str) -> str | None:
        row = self._codes.rows.get(code)
        return None if row is None else row.customer_id

    def codes_of(self, customer_id: str) -> list[str]:
        mine = [r for r in self._codes.rows.values() if r.customer_id == customer_id]
        return [r.code for r in sorted(mine, key=lambda r: (r.created_at, r.code))]

    def add(self, referral: Referral) -> None:
        self._referrals.insert(referral.id, referral)

    def for_referee(self, customer_id: str, *, for_update: bool = False) -> Referral | None:
        mine = self.of_referee(customer_id)
        return mine[0] if mine else None

    def by_referrer(self, customer_id: str) -> list[Referral]:
        return self._sorted(r for r in self._referrals.rows.values()
                            if r.referrer_id == customer_id)

    def of_referee(self, customer_id: str) -> list[Referral]:
        return self._sorted(r for r in self._referrals.rows.values()
                            if r.referee_id == customer_id)

    def mark_rewarded(self, referral: Referral) -> None:
        self._referrals.update(referral.id, referral)

    @staticmethod
    def _sorted(found: Iterable[Referral]) -> list[Referral]:
        return sorted(found, key=lambda r: (r.referred_at, r.id))
