"""ecrm's tables. ``tenant_id`` leads every primary key and index, so a tenant's rows stay
together and the schema can be distributed by tenant (Citus) without redesign.

Columns that point at a customer carry ``info={"customer_ref": True}``; merging customers
moves every such row, including those of tables later capabilities add.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Double,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

#: Options that make MySQL/MariaDB store full Unicode and compare keys byte by byte.
MYSQL_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                 "mysql_engine": "InnoDB"}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def tenant_column() -> Column:
    """The leading column of every table."""
    return Column("tenant_id", Key(64), primary_key=True)


def customer_ref(nullable: bool = False, name: str = "customer_id") -> Column:
    """A column holding a customer id that follows merges."""
    return Column(name, Key(36), nullable=nullable, info={"customer_ref": True})


accounts = Table(
    "ecrm_accounts", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("external_id", Key(128)),
    Column("attributes", JSONDocument, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "external_id"),
    **MYSQL_OPTIONS,
)

customers = Table(
    "ecrm_customers", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("email", Key(254)),
    Column("name", String(200)),
    Column("kana_name", String(200)),
    Column("phone", String(32)),
    Column("external_id", Key(128)),
    Column("birth_date", Date),
    Column("gender", String(16)),
    Column("country", String(2)),  # NULL: no address
    Column("postal_code", String(16)),
    Column("prefecture", String(32)),
    Column("city", String(100)),
    Column("street", String(200)),
    Column("building", String(200)),
    Column("acquisition_channel", String(32)),
    Column("account_id", Key(36)),
    Column("attributes", JSONDocument, nullable=False),
    Column("signed_up_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "email"),
    UniqueConstraint("tenant_id", "external_id"),
    ForeignKeyConstraint(["tenant_id", "account_id"], ["ecrm_accounts.tenant_id",
                                                       "ecrm_accounts.id"]),
    Index(None, "tenant_id", "account_id"),
    **MYSQL_OPTIONS,
)

customer_merges = Table(
    "ecrm_customer_merges", metadata,
    tenant_column(),
    Column("duplicate_id", Key(36), primary_key=True),
    Column("survivor_id", Key(36), nullable=False),
    Column("merged_at", UTCDateTime, nullable=False),
    Column("duplicate", JSONDocument, nullable=False),
    Index(None, "tenant_id", "survivor_id"),
    **MYSQL_OPTIONS,
)

orders = Table(
    "ecrm_orders", metadata,
    tenant_column(),
    Column("order_id", Key(128), primary_key=True),
    customer_ref(),
    Column("placed_at", UTCDateTime, nullable=False),
    Column("channel", String(32), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(24), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("cancelled_at", UTCDateTime),
    ForeignKeyConstraint(["tenant_id", "customer_id"], ["ecrm_customers.tenant_id",
                                                        "ecrm_customers.id"]),
    Index(None, "tenant_id", "customer_id", "placed_at"),
    **MYSQL_OPTIONS,
)

order_lines = Table(
    "ecrm_order_lines", metadata,
    tenant_column(),
    Column("order_id", Key(128), primary_key=True),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("sku", Key(64), nullable=False),
    Column("category", String(64)),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_minor", BigInteger, nullable=False),
    ForeignKeyConstraint(["tenant_id", "order_id"], ["ecrm_orders.tenant_id",
                                                     "ecrm_orders.order_id"]),
    **MYSQL_OPTIONS,
)

refunds = Table(
    "ecrm_refunds", metadata,
    tenant_column(),
    Column("refund_id", Key(128), primary_key=True),
    Column("order_id", Key(128), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("refunded_at", UTCDateTime, nullable=False),
    Column("reason", String(500)),
    ForeignKeyConstraint(["tenant_id", "order_id"], ["ecrm_orders.tenant_id",
                                                     "ecrm_orders.order_id"]),
    Index(None, "tenant_id", "order_id"),
    **MYSQL_OPTIONS,
)


def point_transaction_ref() -> ForeignKeyConstraint:
    """A ledger row's link to the point transaction it belongs to."""
    return ForeignKeyConstraint(["tenant_id", "transaction_id"],
                                ["ecrm_point_transactions.tenant_id", "ecrm_point_transactions.id"])


idempotency_keys = Table(
    "ecrm_idempotency_keys", metadata,
    tenant_column(),
    Column("scope", String(32), primary_key=True),
    Column("key", Key(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result_id", Key(36), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    **MYSQL_OPTIONS,
)

point_transactions = Table(
    "ecrm_point_transactions", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("kind", String(16), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("reason", String(500)),
    Column("reference", String(128)),
    Column("reverses_id", Key(36)),
    Column("debt", BigInteger, nullable=False, server_default="0"),
    Column("written_off", BigInteger, nullable=False, server_default="0"),
    Index(None, "tenant_id", "customer_id", "occurred_at"),
    Index(None, "tenant_id", "reverses_id"),
    **MYSQL_OPTIONS,
)

point_entries = Table(
    "ecrm_point_entries", metadata,
    tenant_column(),
    Column("transaction_id", Key(36), primary_key=True),
    Column("account", String(32), primary_key=True),
    Column("points", BigInteger, nullable=False),
    point_transaction_ref(),
    **MYSQL_OPTIONS,
)

point_lots = Table(
    "ecrm_point_lots", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("transaction_id", Key(36), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("earned_at", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    point_transaction_ref(),
    Index(None, "tenant_id", "customer_id"),
    Index(None, "tenant_id", "expires_at"),
    **MYSQL_OPTIONS,
)

point_lot_uses = Table(
    "ecrm_point_lot_uses", metadata,
    tenant_column(),
    Column("transaction_id", Key(36), primary_key=True),
    Column("lot_id", Key(36), primary_key=True),
    Column("points", BigInteger, nullable=False),
    point_transaction_ref(),
    **MYSQL_OPTIONS,
)

# Not a customer_ref: a merge keeps one status (the higher tier), decided by the service.
tier_status = Table(
    "ecrm_tier_status", metadata,
    tenant_column(),
    Column("customer_id", Key(36), primary_key=True),
    Column("tier", String(64)),
    Column("since", UTCDateTime),
    Column("valid_until", UTCDateTime),
    Column("floor", String(64)),
    Index(None, "tenant_id", "valid_until"),
    **MYSQL_OPTIONS,
)

tier_changes = Table(
    "ecrm_tier_changes", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("from_tier", String(64)),
    Column("to_tier", String(64)),
    Column("reason", String(16), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("qualifying", String(40)),
    Index(None, "tenant_id", "customer_id", "changed_at"),
    **MYSQL_OPTIONS,
)


def coupon_ref() -> ForeignKeyConstraint:
    """A row's link to the coupon it is about."""
    return ForeignKeyConstraint(["tenant_id", "code"],
                                ["ecrm_coupons.tenant_id", "ecrm_coupons.code"])


def customer_fk() -> ForeignKeyConstraint:
    """A row's link to its customer (merges move it with ``customer_ref``)."""
    return ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"])


coupons = Table(
    "ecrm_coupons", metadata,
    tenant_column(),
    Column("code", Key(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("amount_minor", BigInteger),
    Column("percent_bp", Integer),  # basis points: 1250 is 12.5 %
    Column("max_discount_minor", BigInteger),
    Column("min_order_minor", BigInteger),
    Column("valid_from", UTCDateTime),
    Column("valid_until", UTCDateTime),
    Column("max_uses", Integer),
    Column("per_customer_limit", Integer),
    Column("budget_minor", BigInteger),
    Column("members_only", Boolean, nullable=False),
    Column("issued_only", Boolean, nullable=False),
    Column("tiers", JSONDocument, nullable=False),
    Column("description", String(500)),
    Column("uses", Integer, nullable=False),
    Column("discount_given_minor", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    **MYSQL_OPTIONS,
)

# The customer is never part of a unique key: a merge moves rows between customers, and two
# rows of the duplicate and the survivor must not collide.
coupon_redemptions = Table(
    "ecrm_coupon_redemptions", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("code", Key(64), nullable=False),
    Column("order_id", Key(128), nullable=False),
    customer_ref(nullable=True),
    Column("currency", String(3), nullable=False),
    Column("order_total_minor", BigInteger, nullable=False),
    Column("discount_minor", BigInteger, nullable=False),
    Column("redeemed_at", UTCDateTime, nullable=False),
    Column("restored_at", UTCDateTime),
    coupon_ref(),
    customer_fk(),
    UniqueConstraint("tenant_id", "code", "order_id"),
    Index(None, "tenant_id", "customer_id", "code"),
    **MYSQL_OPTIONS,
)

coupon_issues = Table(
    "ecrm_coupon_issues", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("code", Key(64), nullable=False),
    customer_ref(),
    Column("issued_at", UTCDateTime, nullable=False),
    coupon_ref(),
    customer_fk(),
    Index(None, "tenant_id", "code", "customer_id"),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)

referral_codes = Table(
    "ecrm_referral_codes", metadata,
    tenant_column(),
    Column("code", Key(64), primary_key=True),
    customer_ref(),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)

# One referral per referee is the service's rule, not a unique key: a merge may bring two.
referrals = Table(
    "ecrm_referrals", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(name="referee_id"),
    customer_ref(name="referrer_id"),
    Column("code", Key(64), nullable=False),
    Column("referred_at", UTCDateTime, nullable=False),
    Column("rewarded_at", UTCDateTime),
    Column("order_id", Key(128)),
    Index(None, "tenant_id", "referee_id"),
    Index(None, "tenant_id", "referrer_id"),
    **MYSQL_OPTIONS,
)

# The timeline reads a customer's newest interactions by (occurred_at, id) through the
# first index; purges by age use the second.
interactions = Table(
    "ecrm_interactions", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("channel", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("sku", String(64)),
    Column("reference", String(128)),
    Column("external_id", Key(128)),
    Column("payload", JSONDocument),
    UniqueConstraint("tenant_id", "channel", "external_id"),
    Index(None, "tenant_id", "customer_id", "occurred_at", "id"),
    Index(None, "tenant_id", "occurred_at"),
    **MYSQL_OPTIONS,
)


# Support cases. The timeline and ``for_customer`` read a customer's cases by
# (opened_at, id) through the first index; the SLA check walks the active ones by
# (status, id) through the second; figures read a period through the third.
cases = Table(
    "ecrm_cases", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("type", String(16), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("category", String(64)),
    Column("root_cause", String(64)),
    Column("assignee", String(64)),
    Column("team", String(64)),
    Column("tags", JSONDocument, nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("first_response_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("reopen_count", Integer, nullable=False),
    customer_fk(),
    Index(None, "tenant_id", "customer_id", "opened_at", "id"),
    Index(None, "tenant_id", "status", "id"),
    Index(None, "tenant_id", "opened_at"),
    **MYSQL_OPTIONS,
)


def case_ref() -> ForeignKeyConstraint:
    """A row's link to the case it belongs to."""
    return ForeignKeyConstraint(["tenant_id", "case_id"],
                                ["ecrm_cases.tenant_id", "ecrm_cases.id"])


# The orders a case is about; ``position`` keeps them in the order they were given. No
# link to ecrm_orders: a case may name an order the CRM has not recorded (yet). The order
# index holds the case id too: SQLite prefers a covering index, and without it walks the
# tenant's part of the primary key rather than look up the order.
case_orders = Table(
    "ecrm_case_orders", metadata,
    tenant_column(),
    Column("case_id", Key(36), primary_key=True),
    Column("order_id", Key(128), primary_key=True),
    Column("position", Integer, nullable=False),
    case_ref(),
    Index(None, "tenant_id", "order_id", "case_id"),
    **MYSQL_OPTIONS,
)

case_status_changes = Table(
    "ecrm_case_status_changes", metadata,
    tenant_column(),
    Column("case_id", Key(36), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UTCDateTime, nullable=False),
    Column("old", String(16)),
    Column("new", String(16), nullable=False),
    Column("actor", String(128)),
    case_ref(),
    **MYSQL_OPTIONS,
)

#: A message body: up to 50,000 characters, which on MySQL/MariaDB (four bytes a
#: character in utf8mb4) outgrow TEXT's 64 KiB.
MESSAGE_BODY = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")

# A case's thread by (case_id, occurred_at, id); the customer's message timeline by
# (customer_id, occurred_at, id); replies find the messages they answer by external id on
# any channel.
case_messages = Table(
    "ecrm_case_messages", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("case_id", Key(36), nullable=False),
    customer_ref(),
    Column("kind", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("body", MESSAGE_BODY, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("author", String(128)),
    Column("external_id", Key(128)),
    Column("payload", JSONDocument),
    case_ref(),
    customer_fk(),
    UniqueConstraint("tenant_id", "channel", "external_id"),
    Index(None, "tenant_id", "case_id", "occurred_at", "id"),
    Index(None, "tenant_id", "customer_id", "occurred_at", "id"),
    Index(None, "tenant_id", "external_id"),
    **MYSQL_OPTIONS,
)

sla_breaches = Table(
    "ecrm_sla_breaches", metadata,
    tenant_column(),
    Column("case_id", Key(36), primary_key=True),
    Column("metric", String(16), primary_key=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    case_ref(),
    **MYSQL_OPTIONS,
)

# The customer index serves merges, which move a duplicate's surveys.
case_surveys = Table(
    "ecrm_case_surveys", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("case_id", Key(36), nullable=False),
    customer_ref(),
    Column("kind", String(16), nullable=False),
    Column("requested_at", UTCDateTime, nullable=False),
    Column("answered_at", UTCDateTime),
    Column("score", Integer),
    Column("comment", String(2000)),
    case_ref(),
    customer_fk(),
    Index(None, "tenant_id", "case_id"),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)


# Consent. Not a customer_ref: the customer is part of the primary key, so the
# duplicate's and the survivor's rows for one channel would collide in a merge; the
# consent service keeps the winning decision. "Who is opted in on channel X for purpose
# Y" reads the index. The history (a customer_ref) moves with merges.
consents = Table(
    "ecrm_consents", metadata,
    tenant_column(),
    Column("customer_id", Key(36), primary_key=True),
    Column("channel", String(32), primary_key=True),
    Column("purpose", String(32), primary_key=True),
    Column("granted", Boolean, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("source", String(200)),
    Column("level", String(16)),
    customer_fk(),
    Index(None, "tenant_id", "channel", "purpose", "granted", "customer_id"),
    **MYSQL_OPTIONS,
)

consent_changes = Table(
    "ecrm_consent_changes", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    customer_ref(),
    Column("channel", String(32), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("source", String(200)),
    Column("purpose", String(32), nullable=False),
    Column("level", String(16)),
    customer_fk(),
    Index(None, "tenant_id", "customer_id", "changed_at"),
    **MYSQL_OPTIONS,
)

# The suppression list, by channel and address (not by customer: it outlives customers).
suppressions = Table(
    "ecrm_suppressions", metadata,
    tenant_column(),
    Column("channel", String(32), primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("reason", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("source", String(200)),
    **MYSQL_OPTIONS,
)

# The transactional outbox: messages waiting to be delivered and their outcomes. Keys are
# unique per tenant (idempotent enqueueing); the dispatcher walks (status, priority,
# due_at, id) in its order, one priority at a time: a claimed message's due_at is the end
# of its lease.
outbox = Table(
    "ecrm_outbox", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("key", Key(128), nullable=False),
    customer_ref(nullable=True),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(500)),
    Column("body", MESSAGE_BODY, nullable=False),
    Column("data", JSONDocument, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("campaign_id", Key(64)),
    Column("variant", String(64)),
    Column("step", String(64)),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", String(1000)),
    Column("provider_id", String(200)),
    Column("lease_until", UTCDateTime),
    customer_fk(),
    UniqueConstraint("tenant_id", "key"),
    Index(None, "tenant_id", "status", "priority", "due_at", "id"),
    Index(None, "tenant_id", "customer_id", "created_at"),
    Index(None, "tenant_id", "campaign_id", "status"),
    **MYSQL_OPTIONS,
)

# Campaigns. ``content`` holds what only the service reads (variants, coupon offer,
# hold-out, cost, priority, attribution window); the columns are what queries filter on.
campaigns = Table(
    "ecrm_campaigns", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("segment_id", Key(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("content", JSONDocument, nullable=False),
    Column("scheduled_at", UTCDateTime),
    Column("launched_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("cursor", Key(36)),
    UniqueConstraint("tenant_id", "name"),
    Index(None, "tenant_id", "status", "scheduled_at"),
    **MYSQL_OPTIONS,
)

# A campaign's audience as launched: one row per member, the customer in the key (so a
# merge absorbs rows like segment members do), indexed by customer for attribution.
campaign_members = Table(
    "ecrm_campaign_members", metadata,
    tenant_column(),
    Column("campaign_id", Key(36), primary_key=True),
    Column("customer_id", Key(36), primary_key=True),
    Column("variant", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("message_id", Key(36)),
    Column("coupon_code", Key(64)),
    Column("reason", String(200)),
    ForeignKeyConstraint(["tenant_id", "campaign_id"],
                         ["ecrm_campaigns.tenant_id", "ecrm_campaigns.id"]),
    customer_fk(),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)

# Triggered journeys. ``definition`` holds the trigger, the steps and the exit conditions
# (what only the service reads); an enrollment's key is the occasion, so a trigger fires
# once per occasion however many workers race.
journeys = Table(
    "ecrm_journeys", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("definition", JSONDocument, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "name"),
    **MYSQL_OPTIONS,
)

journey_enrollments = Table(
    "ecrm_journey_enrollments", metadata,
    tenant_column(),
    Column("journey_id", Key(36), primary_key=True),
    Column("occasion", Key(200), primary_key=True),
    customer_ref(),
    Column("step", Integer, nullable=False),
    Column("due_at", UTCDateTime),
    Column("status", String(16), nullable=False),
    Column("reason", String(200)),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    ForeignKeyConstraint(["tenant_id", "journey_id"],
                         ["ecrm_journeys.tenant_id", "ecrm_journeys.id"]),
    customer_fk(),
    Index(None, "tenant_id", "status", "due_at"),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)

# Saved segments. Names are unique per tenant; ``rule`` holds a dynamic segment's rule tree.
segments = Table(
    "ecrm_segments", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("description", String(1000)),
    Column("rule", JSONDocument),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("refreshed_at", UTCDateTime),
    Column("member_count", Integer, nullable=False),
    UniqueConstraint("tenant_id", "name"),
    **MYSQL_OPTIONS,
)


def segment_ref() -> ForeignKeyConstraint:
    """A row's link to the segment it belongs to."""
    return ForeignKeyConstraint(["tenant_id", "segment_id"],
                                ["ecrm_segments.tenant_id", "ecrm_segments.id"])


# A segment's members through the primary key, a customer's memberships through the
# index. Not a customer_ref: the survivor and the duplicate of a merge may both be members
# of a segment, and their rows would collide; the merge absorbs them instead
# (``SegmentRepository.absorb_member``).
segment_members = Table(
    "ecrm_segment_members", metadata,
    tenant_column(),
    Column("segment_id", Key(36), primary_key=True),
    Column("customer_id", Key(36), primary_key=True),
    Column("since", UTCDateTime, nullable=False),
    segment_ref(),
    customer_fk(),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)

# Who entered and left each segment: a segment's history by (at, id) through the first
# index, a customer's through the second (merges move it).
segment_changes = Table(
    "ecrm_segment_changes", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("segment_id", Key(36), nullable=False),
    customer_ref(),
    Column("change", String(8), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    segment_ref(),
    customer_fk(),
    Index(None, "tenant_id", "segment_id", "at", "id"),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)


# Erasure records: which customer was erased when, and how many rows of each kind were
# blanked; no personal data. Not a customer_ref: the record names the id that was erased.
redactions = Table(
    "ecrm_redactions", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("customer_id", Key(36), nullable=False),
    Column("erased_at", UTCDateTime, nullable=False),
    Column("removed", JSONDocument, nullable=False),
    Index(None, "tenant_id", "customer_id"),
    **MYSQL_OPTIONS,
)


def customer_ref_columns() -> list[Column]:
    """Every column in the schema that refers to a customer and follows merges."""
    return [c for t in metadata.sorted_tables for c in t.columns if c.info.get("customer_ref")]


# Recommendations. Hand-written rules; item lists are JSON arrays.
recommendation_rules = Table(
    "ecrm_recommendation_rules", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("triggers", String(40), nullable=False),
    Column("if_skus", JSONDocument, nullable=False),
    Column("if_categories", JSONDocument, nullable=False),
    Column("suggest_skus", JSONDocument, nullable=False),
    Column("suggest_categories", JSONDocument, nullable=False),
    Column("priority", Integer, nullable=False),
    Column("valid_from", UTCDateTime),
    Column("valid_until", UTCDateTime),
    Column("segment_id", Key(36)),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "name"),
    **MYSQL_OPTIONS,
)

# Mined association models: the settings and figures of each named model.
association_models = Table(
    "ecrm_association_models", metadata,
    tenant_column(),
    Column("name", Key(64), primary_key=True),
    Column("window_days", Integer),
    Column("min_support", Double, nullable=False),
    Column("min_confidence", Double, nullable=False),
    Column("min_lift", Double, nullable=False),
    Column("min_leverage", Double, nullable=False),
    Column("min_conviction", Double, nullable=False),
    Column("max_length", Integer, nullable=False),
    Column("baskets", BigInteger, nullable=False),
    Column("rule_count", Integer, nullable=False),
    Column("window_start", UTCDateTime),
    Column("refreshed_at", UTCDateTime, nullable=False),
    Column("incremental", Boolean, nullable=False),
    **MYSQL_OPTIONS,
)


def association_model_ref() -> ForeignKeyConstraint:
    """A row's link to the model it belongs to."""
    return ForeignKeyConstraint(["tenant_id", "model"], ["ecrm_association_models.tenant_id",
                                                         "ecrm_association_models.name"])


# Every item of a model's baskets: how many baskets hold it and its latest category; the
# best sellers overall and per category through the indexes.
association_items = Table(
    "ecrm_association_items", metadata,
    tenant_column(),
    Column("model", Key(64), primary_key=True),
    Column("sku", Key(64), primary_key=True),
    Column("category", String(64)),
    Column("baskets", BigInteger, nullable=False),
    association_model_ref(),
    Index(None, "tenant_id", "model", "baskets"),
    Index(None, "tenant_id", "model", "category", "baskets"),
    **MYSQL_OPTIONS,
)

# How many baskets hold each itemset of two or more items (all of them, frequent or not,
# so a refresh can add and take away baskets); ``itemset`` is a JSON array of sorted SKUs.
association_itemsets = Table(
    "ecrm_association_itemsets", metadata,
    tenant_column(),
    Column("model", Key(64), primary_key=True),
    Column("itemset", Key(300), primary_key=True),
    Column("baskets", BigInteger, nullable=False),
    association_model_ref(),
    **MYSQL_OPTIONS,
)

# The rules that met the model's thresholds, served by antecedent: ``position`` ranks an
# antecedent's rules best first, so serving reads only the best few (the primary key).
association_rules = Table(
    "ecrm_association_rules", metadata,
    tenant_column(),
    Column("model", Key(64), primary_key=True),
    Column("antecedent", Key(210), primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("consequent", Key(210), nullable=False),
    Column("antecedent_count", BigInteger, nullable=False),
    Column("consequent_count", BigInteger, nullable=False),
    Column("both_count", BigInteger, nullable=False),
    association_model_ref(),
    **MYSQL_OPTIONS,
)

# The orders a model has counted, so a refresh adds only new ones and takes away those
# that were cancelled or left the window.
association_orders = Table(
    "ecrm_association_orders", metadata,
    tenant_column(),
    Column("model", Key(64), primary_key=True),
    Column("order_id", Key(128), primary_key=True),
    association_model_ref(),
    **MYSQL_OPTIONS,
)

# The append-only audit trail (see ``docs/audit.md``). ``customer_id`` is a plain column,
# not a customer_ref and without a foreign key: a merge must not rewrite the log, and an
# erased customer's entries stay. A customer's entries, the whole log and one record's
# entries, each in (at, id) order.
audit_log = Table(
    "ecrm_audit_log", metadata,
    tenant_column(),
    Column("id", Key(36), primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Key(128)),
    Column("action", Key(64), nullable=False),
    Column("subject_kind", Key(32), nullable=False),
    Column("subject_id", Key(128), nullable=False),
    Column("customer_id", Key(128)),
    Column("details", JSONDocument, nullable=False),
    Index(None, "tenant_id", "customer_id", "at", "id"),
    Index(None, "tenant_id", "at", "id"),
    Index(None, "tenant_id", "subject_kind", "subject_id", "at", "id"),
    **MYSQL_OPTIONS,
)
