"""The storage seam. A backend stores domain objects for one tenant at a time, inside a
unit of work that lands whole or not at all.

Third-party backends implement these protocols and certify themselves with the shipped
conformance suite (:mod:`ecrm.testing`).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, tzinfo
from typing import Protocol

from ecrm.domain.association import AssociationRule
from ecrm.domain.association_models import AssociationModel, Basket, ItemCount
from ecrm.domain.audit import AuditEntry, AuditQuery
from ecrm.domain.automation import Enrollment, EnrollmentStatus, Journey, Occasion
from ecrm.domain.campaigns import Campaign, CampaignMember, CampaignStatus, MemberStatus
from ecrm.domain.cases import Case, CaseMessage, SLABreach, StatusChange, Survey
from ecrm.domain.channels import ChannelAcquisition, ChannelOrders
from ecrm.domain.cohorts import ChurnCount, CohortCell, RepeatFacts, Scope
from ecrm.domain.consent import Consent, ConsentChange
from ecrm.domain.coupons import Coupon, CouponIssue, CouponRedemption
from ecrm.domain.customers import Account, Customer, CustomerMerge
from ecrm.domain.interactions import Interaction
from ecrm.domain.journeys import BuyerJourney, CartCounts, CartEvent, FunnelStep
from ecrm.domain.lifetime import CustomerHistory, PurchaseDays
from ecrm.domain.loyalty import LedgerTotals, PointLot, PointsTransaction
from ecrm.domain.orders import CustomerOrderSummary, CustomerTotals, Order, Refund
from ecrm.domain.outbox import OutboxMessage
from ecrm.domain.periods import Periods
from ecrm.domain.privacy import Redaction
from ecrm.domain.recommendations import Activity, RecommendationRule
from ecrm.domain.referrals import Referral
from ecrm.domain.rfm import RFMRow, RFMScorer
from ecrm.domain.segment_fields import RuleContext
from ecrm.domain.segment_rules import Rule
from ecrm.domain.segments import Membership, MembershipChange, Segment
from ecrm.domain.suppression import Suppression
from ecrm.domain.tiers import TierChange, TierStatus
from ecrm.domain.timeline import Before

#: Customer fields with a unique index per tenant, and ``id`` itself.
CustomerKey = str  # "id" | "email" | "external_id"


class Capability(enum.Flag):
    """What a backend offers beyond the protocol's minimum."""

    NONE = 0
    #: Row locks serialise concurrent writers to the same row across processes.
    ROW_LOCKS = enum.auto()
    #: Analytics run inside the database (GROUP BY, window functions).
    SQL_ANALYTICS = enum.auto()
    #: Data outlives the process.
    DURABLE = enum.auto()
    #: Writes join a transaction the host controls; ecrm never commits it.
    EXTERNAL_TRANSACTION = enum.auto()


class CustomerRepository(Protocol):
    """Customers and merge records of the unit of work's tenant."""

    def add(self, customer: Customer) -> None:
        """Insert; raise ``DuplicateKey`` if the id, e-mail or external id is taken."""

    def add_many(self, customers: Collection[Customer]) -> None:
        """Insert a batch; the caller has already checked the unique keys."""

    def get(self, customer_id: str, *, for_update: bool = False) -> Customer | None:
        """The customer, or None. ``for_update`` locks the row until the unit ends."""

    def lock(self, customer_id: str) -> bool:
        """Lock the customer's row until the unit ends, as ``get(..., for_update=True)``
        does, without reading the customer. False when no customer has this id (merge
        records are not followed)."""

    def find(self, key: CustomerKey, value: str) -> Customer | None:
        """The customer whose ``key`` (``"email"`` or ``"external_id"``) equals ``value``."""

    def ids_by(self, key: CustomerKey, values: Collection[str]) -> dict[str, str]:
        """Map each of ``values`` that exists under ``key`` to the customer id."""

    def get_many(self, customer_ids: Collection[str]) -> dict[str, Customer]:
        """The customers of ``customer_ids`` that exist, by id."""

    def replace(self, customer: Customer) -> None:
        """Overwrite the stored customer with the same id."""

    def delete(self, customer_id: str) -> None:
        """Remove the customer row."""

    def page(self, *, after: str | None, limit: int, account_id: str | None) -> list[Customer]:
        """Up to ``limit`` customers with id greater than ``after``, by id."""

    def add_merge(self, merge: CustomerMerge) -> None:
        """Record that a duplicate was merged into a survivor."""

    def merged_into(self, customer_id: str) -> str | None:
        """The survivor ``customer_id`` was merged into, if it was."""

    def merges_into(self, survivor_id: str) -> list[CustomerMerge]:
        """The merges whose survivor is ``survivor_id``, oldest first."""


class AccountRepository(Protocol):
    """B2B accounts of the unit of work's tenant."""

    def add(self, account: Account) -> None:
        """Insert; raise ``DuplicateKey`` if the external id is taken."""

    def get(self, account_id: str) -> Account | None:
        """The account, or None."""

    def find_by_external_id(self, external_id: str) -> Account | None:
        """The account with this external id, or None."""

    def replace(self, account: Account) -> None:
        """Overwrite the stored account with the same id."""


class OrderRepository(Protocol):
    """Orders, lines and refunds of the unit of work's tenant."""

    def add(self, order: Order) -> None:
        """Insert order and lines; raise ``DuplicateKey`` if the order id is taken."""

    def add_many(self, orders: Collection[Order]) -> None:
        """Insert a batch; the caller has already checked the order ids."""

    def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        """The order with its lines, or None."""

    def get_many(self, order_ids: Collection[str]) -> dict[str, Order]:
        """The stored orders among ``order_ids``, by id."""

    def for_customer(self, customer_id: str) -> list[Order]:
        """The customer's orders, oldest first (ties broken by order id)."""

    def count_for_customer(self, customer_id: str) -> int:
        """How many of the customer's orders are not cancelled."""

    def replace_state(self, order: Order) -> None:
        """Store the order's status, refunded amount and cancellation time."""

    def add_refund(self, refund: Refund) -> None:
        """Insert; raise ``DuplicateKey`` if the refund id is taken."""

    def get_refund(self, refund_id: str) -> Refund | None:
        """The refund, or None."""

    def refunds(self, order_id: str) -> list[Refund]:
        """The order's refunds, oldest first."""

    def summary(self, customer_id: str, currency: str) -> CustomerOrderSummary:
        """Aggregates over the customer's orders in ``currency``, cancelled ones left out."""

    def summaries(self, customer_ids: Iterable[str] | None, currency: str) -> Mapping[
            str, CustomerOrderSummary]:
        """The same for many customers (all with orders when ``customer_ids`` is None)."""

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None) -> list[Order]:
        """Up to ``limit`` of the customer's orders with ``(placed_at, order_id)`` below
        ``before`` (all when None), newest first; only ``channels`` when given."""


class InteractionRepository(Protocol):
    """Interactions (touchpoints) of the unit of work's tenant."""

    def add(self, interaction: Interaction) -> None:
        """Insert; raise ``DuplicateKey`` if the id, or the external id on its channel, is
        taken."""

    def add_many(self, interactions: Collection[Interaction]) -> None:
        """Insert a batch; the caller has already checked the external ids."""

    def get(self, interaction_id: str) -> Interaction | None:
        """The interaction, or None."""

    def by_external_id(self, channel: str, external_id: str) -> Interaction | None:
        """The interaction recorded with this external id on ``channel``, or None."""

    def by_external_ids(self, channel: str, external_ids: Collection[str]
                        ) -> dict[str, Interaction]:
        """The interactions recorded on ``channel`` under any of ``external_ids``, by
        external id."""

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None, kinds: Collection[str] | None
                 ) -> list[Interaction]:
        """Up to ``limit`` of the customer's interactions with ``(occurred_at, id)`` below
        ``before`` (all when None), newest first; only ``channels`` and ``kinds`` when
        given. Must stay fast for a customer with millions of interactions (an index)."""

    def delete_older(self, before: datetime, *, channels: Collection[str] | None,
                     kinds: Collection[str] | None, limit: int) -> int:
        """Delete up to ``limit`` interactions that occurred before ``before`` (only
        ``channels`` and ``kinds`` when given); how many were deleted."""


class CaseRepository(Protocol):
    """Support cases of the unit of work's tenant: cases with their order links, status
    history, message threads, SLA breaches and surveys."""

    def add(self, case: Case) -> None:
        """Insert a case and its order links."""

    def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        """The case, or None. ``for_update`` locks its row until the unit ends, so two
        writers to one case take turns."""

    def replace(self, case: Case) -> None:
        """Store every field of an existing case, its order links included."""

    def for_customer(self, customer_id: str) -> list[Case]:
        """The customer's cases, oldest first (ties by id)."""

    def for_order(self, order_id: str) -> list[Case]:
        """The cases linked to the order, oldest first (ties by id)."""

    def active(self, *, after: str | None, limit: int) -> list[Case]:
        """Up to ``limit`` cases whose status is new, open or pending with id greater
        than ``after``, by id (the SLA check walks them)."""

    def opened_between(self, since: datetime, until: datetime) -> list[Case]:
        """The cases opened in ``[since, until)``, in no particular order (figures read a
        period in one range of an index)."""

    def add_status_change(self, change: StatusChange) -> None:
        """Append a step to a case's history; raise ``DuplicateKey`` if its ``seq`` is
        taken."""

    def history(self, case_id: str) -> list[StatusChange]:
        """The case's status changes, by ``seq``."""

    def histories(self, case_ids: Collection[str]) -> dict[str, list[StatusChange]]:
        """The histories of many cases, by case id (cases without one left out)."""

    def add_message(self, message: CaseMessage) -> None:
        """Insert; raise ``DuplicateKey`` if the id, or the external id on its channel, is
        taken."""

    def messages(self, case_id: str) -> list[CaseMessage]:
        """The case's thread, oldest first (ties by id)."""

    def message_by_external_id(self, channel: str, external_id: str) -> CaseMessage | None:
        """The message recorded with this external id on ``channel``, or None."""

    def messages_by_external_ids(self, external_ids: Collection[str]
                                 ) -> list[CaseMessage]:
        """The messages, on any channel, whose external id is one of ``external_ids``
        (replies name the messages they answer this way), in no particular order."""

    def message_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                         channels: Collection[str] | None, kinds: Collection[str] | None
                         ) -> list[CaseMessage]:
        """Up to ``limit`` of the customer's case messages with ``(occurred_at, id)``
        below ``before`` (all when None), newest first; only ``channels`` and message
        ``kinds`` when given."""

    def case_timeline(self, customer_id: str, *, before: Before | None, limit: int,
                      channels: Collection[str] | None) -> list[Case]:
        """Up to ``limit`` of the customer's cases with ``(opened_at, id)`` below
        ``before`` (all when None), newest first; only ``channels`` when given."""

    def add_breach(self, breach: SLABreach) -> None:
        """Record a breach; raise ``DuplicateKey`` if the case already has one for the
        metric."""

    def breaches(self, case_ids: Collection[str]) -> list[SLABreach]:
        """The breaches of these cases, in no particular order."""

    def add_survey(self, survey: Survey) -> None:
        """Insert a survey request."""

    def get_survey(self, survey_id: str, *, for_update: bool = False) -> Survey | None:
        """The survey, or None. ``for_update`` locks its row until the unit ends."""

    def answer_survey(self, survey: Survey) -> None:
        """Store the survey's ``answered_at``, ``score`` and ``comment``."""

    def surveys(self, case_ids: Collection[str]) -> list[Survey]:
        """The surveys of these cases, oldest first (ties by id)."""


class SegmentRepository(Protocol):
    """Saved segments of the unit of work's tenant, their members and the history of
    customers entering and leaving them.

    Members and history rows name customers and segments that exist (SQL backends hold
    foreign keys); the caller checks that. A membership's key is (segment, customer).
    """

    def add(self, segment: Segment) -> None:
        """Insert; raise ``DuplicateKey`` if the id is taken, or the name
        (``"segments.name"``)."""

    def get(self, segment_id: str, *, for_update: bool = False) -> Segment | None:
        """The segment, or None. ``for_update`` locks its row until the unit ends, so two
        writers to one segment (two refreshes) take turns."""

    def by_name(self, name: str) -> Segment | None:
        """The segment with exactly this name, or None."""

    def all(self) -> list[Segment]:
        """Every segment, by name (code point order)."""

    def replace(self, segment: Segment) -> None:
        """Store every field of an existing segment; raise ``DuplicateKey`` if the new
        name is another segment's."""

    def delete(self, segment_id: str) -> None:
        """Remove the segment with its members and its history."""

    def member_ids(self, segment_id: str) -> set[str]:
        """The ids of the segment's members (fast for hundreds of thousands)."""

    def members(self, segment_id: str, *, after: str | None, limit: int
                ) -> list[Membership]:
        """Up to ``limit`` memberships with customer id greater than ``after`` (from the
        first when None), by customer id."""

    def member_customers(self, segment_id: str, *, after: str | None, limit: int
                         ) -> list[Customer]:
        """The customers of :meth:`members` (the same page), in one read: a campaign's
        or an export's audience, page by page."""

    def is_member(self, segment_id: str, customer_id: str) -> bool:
        """True when the customer is a member of the segment."""

    def add_members(self, memberships: Collection[Membership]) -> None:
        """Insert memberships, in bulk (hundreds of thousands in one call); raise
        ``DuplicateKey`` if one exists already."""

    def remove_members(self, segment_id: str, customer_ids: Collection[str]) -> None:
        """Remove these customers from the segment; ids that are not members are
        ignored."""

    def memberships_of(self, customer_id: str) -> list[Membership]:
        """The customer's memberships, by segment id."""

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        """For a merge: move the duplicate's memberships to the survivor, except where the
        survivor is a member already; those are dropped, and the ``member_count`` of
        their segments drops by one. History moves with ``reassign_customer``."""

    def add_changes(self, changes: Collection[MembershipChange]) -> None:
        """Append entries to segments' histories, in bulk; raise ``DuplicateKey`` if an
        id is taken."""

    def history(self, segment_id: str, *, customer_id: str | None = None,
                since: datetime | None = None, limit: int | None = None
                ) -> list[MembershipChange]:
        """The segment's history, oldest first (ties by id): only the customer's when
        ``customer_id`` is given, only at or after ``since``, at most ``limit``."""

    def history_of(self, customer_id: str) -> list[MembershipChange]:
        """The customer's entries in every segment's history, oldest first (ties by
        id)."""


class RecommendationRepository(Protocol):
    """Hand-written recommendation rules, mined association models, and the reads that
    serve suggestions, for the unit of work's tenant."""

    def add_rule(self, rule: RecommendationRule) -> None:
        """Insert; raise ``DuplicateKey`` (``"recommendation_rules.name"``) when the name
        is taken."""

    def get_rule(self, rule_id: str) -> RecommendationRule | None:
        """The rule, or None."""

    def rule_by_name(self, name: str) -> RecommendationRule | None:
        """The rule of that name, or None."""

    def rules(self) -> list[RecommendationRule]:
        """Every rule, by name."""

    def replace_rule(self, rule: RecommendationRule) -> None:
        """Overwrite the stored rule of ``rule.id``; ``DuplicateKey`` as in
        :meth:`add_rule`."""

    def delete_rule(self, rule_id: str) -> None:
        """Remove the rule (nothing when absent)."""

    def activity(self, customer_id: str, *, since: datetime, limit: int) -> Activity:
        """The customer's items: every SKU of their orders that are not cancelled (most
        recently placed first, with the category of that latest line); and from their
        ``product_view``, ``cart_add`` and ``cart_remove`` interactions with a SKU
        since ``since`` (the newest ``limit`` of them), the SKUs viewed and those added
        to the cart after their latest order and not removed since."""

    def known_skus(self, skus: Collection[str]) -> set[str]:
        """Those of ``skus`` that appear on an order line or an interaction."""

    def baskets(self, start: datetime | None, end: datetime) -> Iterable[Basket]:
        """Every order that is not cancelled placed in ``[start, end]`` (from the first
        when ``start`` is None) as a basket; streamed, in no set order."""

    def get_model(self, name: str, *, for_update: bool = False) -> AssociationModel | None:
        """The model, or None; ``for_update`` locks its row until the unit ends."""

    def models(self) -> list[AssociationModel]:
        """Every model, by name."""

    def put_model(self, model: AssociationModel) -> None:
        """Insert the model or overwrite its stored settings and figures."""

    def delete_model(self, name: str) -> None:
        """Remove the model and everything counted for it."""

    def clear_counts(self, name: str) -> None:
        """Forget the model's items, itemsets, rules and counted orders."""

    def add_counts(self, name: str, items: Iterable[ItemCount],
                   itemsets: Mapping[tuple[str, ...], int], order_ids: Iterable[str]) -> None:
        """After :meth:`clear_counts`: store the items, the basket counts of itemsets of
        two or more items, and the ids of the orders counted."""

    def change_counts(self, name: str, items: Mapping[str, tuple[int, str | None]],
                      itemsets: Mapping[tuple[str, ...], int], added: Collection[str],
                      removed: Collection[str]) -> None:
        """Add the changes to the stored counts: ``items`` maps SKUs to (change of the
        basket count, category or None to keep the stored one), ``itemsets`` itemsets
        to the change of their count; counts that reach 0 go. Record the ``added``
        order ids as counted and forget the ``removed``."""

    def frequent_counts(self, name: str, min_baskets: int) -> dict[tuple[str, ...], int]:
        """Every item and itemset of the model held by at least ``min_baskets``
        baskets, with its count."""

    def pending_baskets(self, name: str, start: datetime | None,
                        end: datetime) -> Iterable[Basket]:
        """The baskets :meth:`baskets` gives that the model has not counted."""

    def stale_baskets(self, name: str, start: datetime | None) -> Iterable[Basket]:
        """The baskets the model counted whose order is now cancelled or was placed
        before ``start``."""

    def replace_rules(self, name: str, rules: Iterable[AssociationRule]) -> None:
        """Make ``rules`` the model's stored rules, ranking each antecedent's rules in the
        order given."""

    def rules_for(self, name: str, antecedents: Collection[tuple[str, ...]],
                  best: int | None = None) -> list[AssociationRule]:
        """The model's stored rules whose antecedent is one of ``antecedents`` (of each
        antecedent only the first ``best`` by rank, when given)."""

    def all_rules(self, name: str) -> list[AssociationRule]:
        """Every stored rule of the model."""

    def items(self, name: str, skus: Collection[str]) -> dict[str, ItemCount]:
        """The model's counts of those of ``skus`` it holds (none when there is no such
        model)."""

    def popular(self, name: str, category: str | None, limit: int) -> list[ItemCount]:
        """The model's ``limit`` items held by the most baskets (in ``category`` when
        given), most first, ties by SKU."""


class AuditRepository(Protocol):
    """The audit trail of the unit of work's tenant: append-only, so there is no way to
    change or remove an entry. ``customer_id`` is stored as given; a merge does not move
    it (see ``reassign_customer``)."""

    def add(self, entry: AuditEntry) -> None:
        """Append an entry; raise ``DuplicateKey`` if its id is taken."""

    def entries(self, query: AuditQuery) -> list[AuditEntry]:
        """Up to ``query.limit`` entries that pass every filter of ``query``, oldest
        first by ``(at, id)``, starting behind ``query.after``. Must stay fast for one
        customer's entries (an index on ``(tenant, customer_id, at)``)."""


class IdempotencyRepository(Protocol):
    """Keys claimed by idempotent writes, per scope (``"points"``, ...)."""

    def claim(self, scope: str, key: str, fingerprint: str, result_id: str,
              at: datetime) -> None:
        """Record the key; raise ``DuplicateKey`` if it is taken."""

    def get(self, scope: str, key: str) -> tuple[str, str] | None:
        """``(fingerprint, result_id)`` of a claimed key, or None."""


class LoyaltyRepository(Protocol):
    """The points ledger of the unit of work's tenant."""

    def add_transaction(self, transaction: PointsTransaction) -> None:
        """Insert a transaction with its entries and lot uses."""

    def add_lot(self, lot: PointLot) -> None:
        """Insert a new lot (after the transaction that created it)."""

    def update_lots(self, lots: Iterable[PointLot]) -> None:
        """Store the ``remaining`` points of existing lots."""

    def lots(self, customer_id: str) -> list[PointLot]:
        """The customer's lots that still hold points."""

    def lots_by_id(self, lot_ids: Collection[str]) -> dict[str, PointLot]:
        """The lots with these ids, held points or not."""

    def lots_of(self, customer_id: str) -> list[PointLot]:
        """Every lot of the customer, held points or not, by id (an export reads them)."""

    def get_transaction(self, transaction_id: str) -> PointsTransaction | None:
        """The transaction, or None."""

    def transactions(self, customer_id: str) -> list[PointsTransaction]:
        """The customer's transactions, oldest first (ties by id)."""

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 kinds: Collection[str] | None) -> list[PointsTransaction]:
        """Up to ``limit`` of the customer's transactions with ``(occurred_at, id)`` below
        ``before`` (all when None), newest first; only those whose ``kind`` value is in
        ``kinds`` when given."""

    def is_reversed(self, transaction_id: str) -> bool:
        """True when a reversal of the transaction exists."""

    def debt(self, customer_id: str) -> int:
        """The customer's points debt: the sum of ``debt`` over their transactions."""

    def customers_with_expired_lots(self, now: datetime, limit: int) -> list[str]:
        """Up to ``limit`` customers holding points in lots that expired by ``now``."""

    def totals(self) -> LedgerTotals:
        """The sums of every ledger account."""


class TierRepository(Protocol):
    """Member tiers of the unit of work's tenant: one status per customer, and the log of
    changes."""

    def status(self, customer_id: str) -> TierStatus | None:
        """The customer's stored status, or None."""

    def put_status(self, status: TierStatus) -> None:
        """Insert or overwrite the customer's status."""

    def delete_status(self, customer_id: str) -> None:
        """Remove the customer's status, if any."""

    def add_change(self, change: TierChange) -> None:
        """Record a change of tier."""

    def changes(self, customer_id: str) -> list[TierChange]:
        """The customer's tier changes, oldest first (ties by id)."""

    def due_for_review(self, before: datetime, limit: int) -> list[str]:
        """Up to ``limit`` customers, by id, whose tier's period ended by ``before``."""


class ConsentRepository(Protocol):
    """Consent of the unit of work's tenant: one current state per customer, channel and
    purpose, and the append-only history of decisions."""

    def get(self, customer_id: str, channel: str, purpose: str) -> Consent | None:
        """The customer's state on ``channel`` for ``purpose``, or None."""

    def for_customer(self, customer_id: str) -> list[Consent]:
        """The customer's states, by channel, then purpose."""

    def put(self, consent: Consent) -> None:
        """Insert or overwrite the state of ``consent``'s customer, channel and purpose."""

    def delete_for_customer(self, customer_id: str) -> None:
        """Remove every state of the customer (the history stays)."""

    def add_change(self, change: ConsentChange) -> None:
        """Append a decision to the history."""

    def history(self, customer_id: str, channel: str | None) -> list[ConsentChange]:
        """The customer's decisions, on ``channel`` only when given, oldest first (by
        ``changed_at``, ties by id)."""

    def granted_ids(self, channel: str, customer_ids: Collection[str] | None,
                    purpose: str = "marketing") -> set[str]:
        """The customers, among ``customer_ids`` (all when None), whose state on
        ``channel`` for ``purpose`` is granted. Must stay fast for a whole tenant (an
        index)."""


class PrivacyRepository(Protocol):
    """Erasure and retention across tables (the rules are in :mod:`ecrm.domain.privacy`)."""

    def erase_records(self, customer_id: str) -> dict[str, int]:
        """Blank the personal fields of the customer's interactions, cases, case
        messages, surveys, refunds, points transactions, consent history and outbox
        messages (cancelling those not yet sent), as the ``erased_*`` rules say. Returns
        how many rows of each kind were the customer's, keyed by table name without the
        ``ecrm_`` prefix."""

    def recipients(self, customer_id: str) -> set[tuple[str, str]]:
        """Every (channel, recipient) the customer's outbox messages were addressed to."""

    def replace_merge(self, merge: CustomerMerge) -> None:
        """Overwrite the stored snapshot of ``merge.duplicate_id``'s merge record."""

    def add_redaction(self, redaction: Redaction) -> None:
        """Store the record of an erasure."""

    def redactions(self, customer_id: str) -> list[Redaction]:
        """The customer's erasure records, oldest first."""

    def delete_messages(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished outbox messages (sent, dead or cancelled)
        created before ``before``; how many were deleted."""


class SuppressionRepository(Protocol):
    """The suppression list of the unit of work's tenant, by channel and (normalised)
    address."""

    def get(self, channel: str, address: str) -> Suppression | None:
        """The entry for ``address`` on ``channel``, or None."""

    def add(self, suppression: Suppression) -> None:
        """Insert an entry; raise ``DuplicateKey`` when the address is listed already."""

    def delete(self, channel: str, address: str) -> bool:
        """Remove the entry; True when there was one."""

    def list(self, channel: str | None) -> list[Suppression]:
        """Every entry (on ``channel`` only, when given), by channel, then address."""

    def suppressed(self, channel: str, addresses: Collection[str]) -> set[str]:
        """Those of ``addresses`` listed on ``channel`` (for whole audiences at once)."""


class OutboxRepository(Protocol):
    """The outbox of the unit of work's tenant: messages waiting to be delivered, and
    those delivered, dead or cancelled (see :mod:`ecrm.domain.outbox`)."""

    def add(self, message: OutboxMessage) -> None:
        """Insert; raise ``DuplicateKey`` if the id or the key is taken."""

    def add_many(self, messages: Collection[OutboxMessage]) -> None:
        """Insert a batch (the caller has checked the keys) in few statements: campaigns
        enqueue hundreds of thousands at once."""

    def get(self, message_id: str, *, for_update: bool = False) -> OutboxMessage | None:
        """The message, or None. ``for_update`` locks its row until the unit ends."""

    def by_keys(self, keys: Collection[str]) -> dict[str, OutboxMessage]:
        """The stored messages of ``keys`` that exist, by key."""

    def claim_due(self, now: datetime, limit: int, lease_until: datetime
                  ) -> list[OutboxMessage]:
        """Claim up to ``limit`` messages that are sending with an expired lease
        (``due_at <= now``: a dispatcher died), then those pending with ``due_at <=
        now``, highest priority first, then earliest due, then id: set them sending with
        ``due_at`` and ``lease_until`` both ``lease_until``, and return them so.
        Concurrent claims never return the same message (row locks skipped, or writers
        serialised)."""

    def settle(self, message: OutboxMessage, lease_until: datetime) -> bool:
        """Store ``message``'s state (status, attempts, due_at, sent_at, last_error,
        provider_id, lease_until) over the stored row if that row is still sending under
        the claim ``lease_until``; False (nothing written) when the claim was lost."""

    def replace(self, message: OutboxMessage) -> None:
        """Store ``message``'s state over the stored row (the caller holds its lock)."""

    def find(self, *, status: str | None, campaign_id: str | None,
             customer_id: str | None, limit: int) -> list[OutboxMessage]:
        """Up to ``limit`` messages matching every filter given, oldest first (by
        ``created_at``, ties by id)."""

    def timeline(self, customer_id: str, *, before: Before | None, limit: int
                 ) -> list[OutboxMessage]:
        """Up to ``limit`` of the customer's messages with ``(created_at, id)`` below
        ``before`` (all when None), newest first, along the customer index."""

    def counts(self, campaign_id: str | None) -> dict[str, int]:
        """How many messages are in each status (of the campaign, when given); statuses
        without messages are left out."""

    def recent(self, customer_id: str, since: datetime) -> list[OutboxMessage]:
        """The customer's messages being sent, and those sent at or after ``since``
        (what frequency caps count). Called while the dispatcher's claim holds the
        customer's lock; it must see every change committed before (READ COMMITTED)."""


class CampaignRepository(Protocol):
    """Campaigns of the unit of work's tenant and the members of their audiences."""

    def add(self, campaign: Campaign) -> None:
        """Insert; raise ``DuplicateKey`` for a taken id or name."""

    def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        """The campaign, or None; ``for_update`` locks it until the unit ends."""

    def by_name(self, name: str) -> Campaign | None:
        """The campaign with exactly this name, or None."""

    def all(self, status: CampaignStatus | None) -> list[Campaign]:
        """Every campaign (with ``status`` only, when given), by creation time, then id."""

    def replace(self, campaign: Campaign) -> None:
        """Overwrite the stored campaign with the same id."""

    def due(self, now: datetime) -> list[str]:
        """Ids, sorted, of the campaigns scheduled at or before ``now`` and of those
        sending."""

    def add_members(self, members: Collection[CampaignMember]) -> None:
        """Insert members (in bulk); ``DuplicateKey`` for one already there."""

    def members(self, campaign_id: str, *, after: str | None, limit: int
                ) -> list[CampaignMember]:
        """Up to ``limit`` members with customer ids above ``after``, by customer id."""

    def member_counts(self, campaign_id: str) -> Counter[tuple[str, MemberStatus]]:
        """How many members the campaign has per (variant, status)."""

    def memberships_of(self, customer_id: str) -> list[CampaignMember]:
        """The customer's rows in every campaign, by campaign id."""

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        """After a merge: drop the duplicate's rows of campaigns the survivor is in too;
        move the rest to the survivor."""


class JourneyRepository(Protocol):
    """Journeys of the unit of work's tenant and their enrollments."""

    def add(self, journey: Journey) -> None:
        """Insert; raise ``DuplicateKey`` for a taken id or name."""

    def get(self, journey_id: str, *, for_update: bool = False) -> Journey | None:
        """The journey, or None; ``for_update`` locks it until the unit ends."""

    def by_name(self, name: str) -> Journey | None:
        """The journey with exactly this name, or None."""

    def all(self) -> list[Journey]:
        """Every journey, by creation time, then id."""

    def replace(self, journey: Journey) -> None:
        """Overwrite the stored journey with the same id."""

    def enroll(self, enrollments: Collection[Enrollment]) -> None:
        """Insert enrollments; ``DuplicateKey`` for an occasion enrolled already."""

    def update_enrollment(self, enrollment: Enrollment) -> None:
        """Overwrite the stored enrollment with the same journey and occasion."""

    def due(self, journey_id: str, now: datetime, limit: int) -> list[Enrollment]:
        """Up to ``limit`` active enrollments of the journey due by ``now``, earliest
        first (then by occasion)."""

    def enrollments(self, journey_id: str, *, status: EnrollmentStatus | None,
                    after: str | None, limit: int) -> list[Enrollment]:
        """Up to ``limit`` enrollments of the journey with occasions above ``after``
        (and ``status``, when given), by occasion."""

    def enrollments_of(self, customer_id: str) -> list[Enrollment]:
        """The customer's enrollments in every journey, by journey id then occasion."""


class AutomationQueries(Protocol):
    """The occasions of journey triggers, and what exit conditions look at."""

    def occasions(self, journey: Journey, now: datetime, *, zone: str, limit: int
                  ) -> list[Occasion]:
        """Up to ``limit`` occasions of the journey's trigger at ``now`` that are not
        enrolled yet, by key; ``zone`` is the time zone of customers without their own
        ``timezone`` attribute (birthdays)."""

    def last_orders(self, customer_ids: Collection[str]) -> dict[str, datetime]:
        """When each of ``customer_ids`` who ordered placed their latest order (any
        status)."""


class CouponRepository(Protocol):
    """Coupons, their redemptions and issuances in the unit of work's tenant."""

    def add_many(self, coupons: Collection[Coupon]) -> None:
        """Insert coupons; raise ``DuplicateKey`` if a code is taken."""

    def get(self, code: str, *, for_update: bool = False) -> Coupon | None:
        """The coupon, or None. ``for_update`` locks its row until the unit ends."""

    def get_many(self, codes: Collection[str]) -> dict[str, Coupon]:
        """The stored coupons among ``codes``, by code."""

    def update_usage(self, coupon: Coupon) -> None:
        """Store the coupon's ``uses`` and ``discount_given``."""

    def add_redemption(self, redemption: CouponRedemption) -> None:
        """Insert; raise ``DuplicateKey`` if the order already redeemed the coupon."""

    def get_redemption(self, code: str, order_id: str) -> CouponRedemption | None:
        """The order's redemption of the coupon, or None."""

    def mark_restored(self, redemption: CouponRedemption) -> None:
        """Store the redemption's ``restored_at``."""

    def redemptions(self, code: str) -> list[CouponRedemption]:
        """The coupon's redemptions, oldest first (ties by id)."""

    def customer_uses(self, code: str, customer_id: str) -> int:
        """How many of the customer's redemptions of the coupon are not restored."""

    def add_issues(self, issues: Collection[CouponIssue]) -> None:
        """Insert issuances."""

    def issues(self, code: str, customer_ids: Collection[str]) -> dict[str, CouponIssue]:
        """The coupon's issuances to any of ``customer_ids``, by customer id."""

    def issued_to(self, customer_id: str) -> list[Coupon]:
        """The coupons issued to the customer, oldest issuance first (a coupon may
        appear twice after a merge)."""

    def issues_of(self, customer_id: str) -> list[CouponIssue]:
        """The customer's issuances, oldest first (ties by id)."""

    def redemptions_of(self, customer_id: str) -> list[CouponRedemption]:
        """The customer's redemptions, restored ones included, oldest first (ties by
        id)."""


class ReferralRepository(Protocol):
    """Referral codes and referrals of the unit of work's tenant."""

    def add_code(self, code: str, customer_id: str, at: datetime) -> None:
        """Store a customer's code; raise ``DuplicateKey`` if the code is taken."""

    def code_owner(self, code: str) -> str | None:
        """The customer the code belongs to, or None."""

    def codes_of(self, customer_id: str) -> list[str]:
        """The customer's codes, oldest first (two after a merge)."""

    def add(self, referral: Referral) -> None:
        """Record a referral."""

    def for_referee(self, customer_id: str, *, for_update: bool = False) -> Referral | None:
        """The referral of a referee (the oldest, after a merge), or None. ``for_update``
        locks it with a locking read."""

    def by_referrer(self, customer_id: str) -> list[Referral]:
        """The referrals a customer made, oldest first."""

    def of_referee(self, customer_id: str) -> list[Referral]:
        """Every referral of a referee (two after a merge may be), oldest first."""

    def mark_rewarded(self, referral: Referral) -> None:
        """Store ``rewarded_at`` and ``order_id``."""


class SegmentQuery(Protocol):
    """Segment rules evaluated over the tenant's customers. The rule comes bound to
    ``context.fields`` (see ``FieldRegistry.bind``); every backend must select the same
    customers as :mod:`ecrm.domain.segment_eval` says."""

    def matching(self, rule: Rule, context: RuleContext) -> list[str]:
        """The ids of the customers ``rule`` selects, sorted."""

    def count(self, rule: Rule, context: RuleContext) -> int:
        """How many customers ``rule`` selects."""


class CohortQueries(Protocol):
    """The aggregates of cohorts, repeat purchase, churn and channels. Each reads the
    counted orders of a :class:`~ecrm.domain.cohorts.Scope` (not cancelled, in its
    currency, placed at or before its as-of time); a customer's *first order* is their
    earliest counted one, ties broken by the smaller order id. Period numbers index the
    ``periods`` given: an instant belongs to period ``k`` when
    ``periods.bounds[k] <= instant < periods.bounds[k + 1]``."""

    def earliest_order(self, scope: Scope) -> datetime | None:
        """The earliest placing time of a counted order placed in the scope's window,
        or None when there is none."""

    def cohort_cells(self, scope: Scope, periods: Periods) -> list[CohortCell]:
        """For the customers whose first order lies in the window, grouped by the period
        of that first order (their cohort) and the period of each of their orders: how
        many ordered, their orders and revenue. Only non-empty cells."""

    def repeat_facts(self, scope: Scope) -> RepeatFacts:
        """Over the customers whose first order lies in the window: how many, and for
        those with a second counted order, its time after the first."""

    def churn_counts(self, scope: Scope, cutoff: datetime,
                     periods: Periods | None) -> list[ChurnCount]:
        """Over the customers whose first order lies in the window: how many are churned
        (their last counted order placed before ``cutoff``) and how many not, by the
        period of their first order (all in cohort 0 when ``periods`` is None). Only
        non-zero counts."""

    def channel_acquisition(self, scope: Scope) -> list[ChannelAcquisition]:
        """Per channel of the first order, over the customers whose first order lies in
        the window: how many, and how many of them have two or more counted orders.
        Only channels with customers."""

    def channel_orders(self, scope: Scope, periods: Periods | None) -> list[ChannelOrders]:
        """The counted orders placed in the window, grouped by their period (all 0 when
        ``periods`` is None) and channel: how many, distinct customers, revenue. Only
        non-empty groups."""


class AnalyticsQueries(CohortQueries, Protocol):
    """The aggregates analytics read, worked out where the data is: GROUP BY and window
    functions on SQL backends, plain loops on memory. Every backend gives the same
    answers (the differential tests hold them to it). Orders count when they are not
    cancelled; amounts are net of refunds, as ``CustomerOrderSummary`` has them."""

    def order_totals(self, customer_ids: Collection[str], start: datetime, end: datetime,
                     currency: str) -> dict[str, CustomerTotals]:
        """For each of ``customer_ids`` with orders in ``currency`` placed in
        ``[start, end)``: their number and net amount. Customers without any are left
        out."""

    def cart_events(self, start: datetime, end: datetime, as_of: datetime
                    ) -> list[CartEvent]:
        """The ``cart_add`` interactions and counted orders at or before ``as_of`` of the
        customers with a cart add in ``[start, end)`` at or before ``as_of``."""

    def cart_counts(self, start: datetime, end: datetime, as_of: datetime,
                    window: timedelta, starts: Sequence[datetime]) -> CartCounts:
        """The carts (:func:`ecrm.domain.journeys.cart_sessions` of those events, with
        conversion ``window``) started in ``[start, end)``, counted as
        :func:`ecrm.domain.journeys.count_carts` counts them over the periods ``starts``."""

    def journey_touches(self, start: datetime | None, end: datetime | None,
                        kinds: Collection[str] | None, max_length: int
                        ) -> list[BuyerJourney]:
        """Every customer whose first counted order falls in ``[start, end)`` (open ends
        for None), with the touches before it of ``kinds`` (None: all): consecutive
        repeats of one channel and kind collapsed, the last ``max_length`` kept."""

    def funnel(self, steps: Sequence[FunnelStep], start: datetime, end: datetime,
               within: timedelta | None) -> list[int]:
        """How many customers reached each step in ``[start, end)``, as
        :func:`ecrm.domain.journeys.funnel_reach` counts them."""
    def rfm(self, as_of: datetime, currency: str, scorer: RFMScorer) -> list[RFMRow]:
        """The RFM row of every customer with a counted order placed at or before
        ``as_of``, sorted by customer id: whole days since the last such order, how many,
        their net amount in ``currency`` (orders in other currencies count 0), and the
        three scores out of ``scorer.bins`` by :func:`ecrm.domain.rfm.score` over all
        those customers (money ranked on minor units); ``scorer`` makes the rows."""
    def customer_histories(self, currency: str, as_of: datetime) -> list[CustomerHistory]:
        """Every customer with orders in ``currency`` placed at or before ``as_of``: how
        many, their net amount, the first and last placing time; by customer id."""

    def purchase_days(self, currency: str, until: datetime, tz: tzinfo,
                      since: datetime | None = None) -> list[PurchaseDays]:
        """Every customer's orders in ``currency`` placed at or before ``until``, grouped
        by calendar day in ``tz`` (a day's revenue is the net amount of its orders): the
        first and last day, the number of days, and the revenue of all days and of the
        first day; by customer id. With ``since``, customers whose first such order was
        placed before it are left out. SQL backends group in the database, finding the
        day by adding the zone's UTC offset (see
        :func:`ecrm.domain.lifetime.offset_schedule`)."""


class UnitOfWork(Protocol):
    """One transaction for one tenant. Leaving the ``with`` block normally commits;
    an exception rolls everything back."""

    # Read-only properties, so implementations may narrow them to their own classes.
    @property
    def tenant(self) -> str:
        """The tenant every statement of this unit is restricted to."""

    @property
    def customers(self) -> CustomerRepository:
        """Customers and merges."""

    @property
    def accounts(self) -> AccountRepository:
        """B2B accounts."""

    @property
    def orders(self) -> OrderRepository:
        """Orders, lines and refunds."""

    @property
    def interactions(self) -> InteractionRepository:
        """Interactions (touchpoints)."""

    @property
    def cases(self) -> CaseRepository:
        """Support cases, their threads, breaches and surveys."""

    @property
    def loyalty(self) -> LoyaltyRepository:
        """The points ledger."""

    @property
    def tiers(self) -> TierRepository:
        """Member tiers."""

    @property
    def referrals(self) -> ReferralRepository:
        """Referral codes and referrals."""

    @property
    def segments(self) -> SegmentRepository:
        """Saved segments, their members and history."""

    @property
    def idempotency(self) -> IdempotencyRepository:
        """Idempotency keys."""

    @property
    def coupons(self) -> CouponRepository:
        """Coupons, redemptions and issuances."""

    @property
    def consents(self) -> ConsentRepository:
        """Marketing consent and its history."""

    @property
    def campaigns(self) -> CampaignRepository:
        """Campaigns and their members."""

    @property
    def journeys(self) -> JourneyRepository:
        """Triggered journeys and their enrollments."""

    @property
    def automation(self) -> AutomationQueries:
        """The occasions of journey triggers."""

    @property
    def suppressions(self) -> SuppressionRepository:
        """The suppression list."""

    @property
    def privacy(self) -> PrivacyRepository:
        """Erasure records and the cross-table erasure and retention work."""

    @property
    def outbox(self) -> OutboxRepository:
        """Messages waiting to be delivered, and their outcomes."""

    @property
    def recommendations(self) -> RecommendationRepository:
        """Recommendation rules and mined association models."""

    @property
    def audit(self) -> AuditRepository:
        """The append-only audit trail."""

    def segment_query(self) -> SegmentQuery:
        """Segment rules over the tenant's customers."""

    @property
    def analytics(self) -> AnalyticsQueries:
        """The aggregates behind ``crm.analytics``."""

    def reassign_customer(self, duplicate_id: str, survivor_id: str) -> None:
        """Move everything attached to ``duplicate_id`` over to ``survivor_id``."""

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the work is durably committed; drop it on rollback."""


class Backend(Protocol):
    """A place to store CRM data: memory, an SQL database, or a third party's."""

    @property
    def capabilities(self) -> Capability:
        """What this backend offers beyond the protocol's minimum."""

    def unit_of_work(self, tenant: str, *,
                     read_only: bool = False) -> AbstractContextManager[UnitOfWork]:
        """Open a unit of work bound to ``tenant``. ``read_only`` promises no writes, which
        lets a backend take lighter locks."""

    def create_schema(self) -> None:
        """Create whatever storage the backend needs; safe to call again."""

    @property
    def can_retry(self) -> bool:
        """True when a failed unit of work may be retried from scratch (False when the
        host owns the transaction)."""

    def close(self) -> None:
        """Release connections and files."""
