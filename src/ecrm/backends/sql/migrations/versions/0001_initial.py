"""ecrm's initial schema: accounts, customers, customer merges, orders, lines and refunds.

Revision ID: ecrm_0001
Revises:

Every constraint and index is named explicitly with ``op.f()``: when a host's own
``env.py`` runs this revision, its ``target_metadata`` naming convention (if any) would
otherwise rename them. Revision ids carry an ``ecrm_`` prefix so they never collide with
the host's ids in a shared ``version_locations`` tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("ecrm",)
depends_on: str | Sequence[str] | None = None

#: Full Unicode and byte-by-byte key comparison on MySQL/MariaDB; ignored elsewhere.
MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the tables, parents before children."""
    create_accounts()
    create_customers()
    create_customer_merges()
    create_orders()
    create_order_lines()
    create_refunds()


def downgrade() -> None:
    """Drop the tables, children before parents."""
    for table in ("ecrm_refunds", "ecrm_order_lines", "ecrm_orders", "ecrm_customer_merges",
                  "ecrm_customers", "ecrm_accounts"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def create_accounts() -> None:
    """B2B accounts that customers may belong to."""
    op.create_table(
        "ecrm_accounts",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("external_id", Key(128), nullable=True),
        sa.Column("attributes", JSONDocument(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_accounts")),
        sa.UniqueConstraint("tenant_id", "external_id",
                            name=op.f("uq_ecrm_accounts_tenant_id_external_id")),
        **MYSQL_OPTIONS,
    )


def create_customers() -> None:
    """Customers, unique by e-mail and by the host's external id within a tenant."""
    op.create_table(
        "ecrm_customers",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("email", Key(254), nullable=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("kana_name", sa.String(200), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("external_id", Key(128), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("gender", sa.String(16), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("postal_code", sa.String(16), nullable=True),
        sa.Column("prefecture", sa.String(32), nullable=True),
        sa.Column("city", sa.String(100), nullable=True),
        sa.Column("street", sa.String(200), nullable=True),
        sa.Column("building", sa.String(200), nullable=True),
        sa.Column("acquisition_channel", sa.String(32), nullable=True),
        sa.Column("account_id", Key(36), nullable=True),
        sa.Column("attributes", JSONDocument(), nullable=False),
        sa.Column("signed_up_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_customers")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_ecrm_customers_tenant_id_email")),
        sa.UniqueConstraint("tenant_id", "external_id",
                            name=op.f("uq_ecrm_customers_tenant_id_external_id")),
        sa.ForeignKeyConstraint(["tenant_id", "account_id"],
                                ["ecrm_accounts.tenant_id", "ecrm_accounts.id"],
                                name=op.f("fk_ecrm_customers_ecrm_accounts")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_customers_tenant_id_account_id"), "ecrm_customers",
                    ["tenant_id", "account_id"])


def create_customer_merges() -> None:
    """One row per customer merged away, keeping a copy of the duplicate."""
    op.create_table(
        "ecrm_customer_merges",
        tenant_id(),
        sa.Column("duplicate_id", Key(36), nullable=False),
        sa.Column("survivor_id", Key(36), nullable=False),
        sa.Column("merged_at", UTCDateTime(), nullable=False),
        sa.Column("duplicate", JSONDocument(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "duplicate_id",
                                name=op.f("pk_ecrm_customer_merges")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_customer_merges_tenant_id_survivor_id"),
                    "ecrm_customer_merges", ["tenant_id", "survivor_id"])


def create_orders() -> None:
    """Orders, keyed by the host's order id; money in minor units."""
    op.create_table(
        "ecrm_orders",
        tenant_id(),
        sa.Column("order_id", Key(128), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("placed_at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "order_id", name=op.f("pk_ecrm_orders")),
        sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                name=op.f("fk_ecrm_orders_ecrm_customers")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_orders_tenant_id_customer_id_placed_at"), "ecrm_orders",
                    ["tenant_id", "customer_id", "placed_at"])


def create_order_lines() -> None:
    """The lines of each order, numbered from the host's order."""
    op.create_table(
        "ecrm_order_lines",
        tenant_id(),
        sa.Column("order_id", Key(128), nullable=False),
        sa.Column("line_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sku", Key(64), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "order_id", "line_no",
                                name=op.f("pk_ecrm_order_lines")),
        sa.ForeignKeyConstraint(["tenant_id", "order_id"],
                                ["ecrm_orders.tenant_id", "ecrm_orders.order_id"],
                                name=op.f("fk_ecrm_order_lines_ecrm_orders")),
        **MYSQL_OPTIONS,
    )


def create_refunds() -> None:
    """Refunds, idempotent by the host's refund id."""
    op.create_table(
        "ecrm_refunds",
        tenant_id(),
        sa.Column("refund_id", Key(128), nullable=False),
        sa.Column("order_id", Key(128), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("refunded_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "refund_id", name=op.f("pk_ecrm_refunds")),
        sa.ForeignKeyConstraint(["tenant_id", "order_id"],
                                ["ecrm_orders.tenant_id", "ecrm_orders.order_id"],
                                name=op.f("fk_ecrm_refunds_ecrm_orders")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_refunds_tenant_id_order_id"), "ecrm_refunds",
                    ["tenant_id", "order_id"])
