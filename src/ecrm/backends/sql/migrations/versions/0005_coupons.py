"""Coupons: coupons, their redemptions and their issuances to customers.

Revision ID: ecrm_0005
Revises: ecrm_0004
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0005"
down_revision: str | Sequence[str] | None = "ecrm_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the coupon tables, parents before children."""
    create_coupons()
    create_coupon_redemptions()
    create_coupon_issues()


def downgrade() -> None:
    """Drop the coupon tables, children before parents."""
    for table in ("ecrm_coupon_issues", "ecrm_coupon_redemptions", "ecrm_coupons"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def coupon_fk(table: str) -> sa.ForeignKeyConstraint:
    """A child row's link to its coupon."""
    return sa.ForeignKeyConstraint(["tenant_id", "code"],
                                   ["ecrm_coupons.tenant_id", "ecrm_coupons.code"],
                                   name=op.f(f"fk_{table}_ecrm_coupons"))


def customer_fk(table: str) -> sa.ForeignKeyConstraint:
    """A child row's link to its customer."""
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                   ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                   name=op.f(f"fk_{table}_ecrm_customers"))


def create_coupons() -> None:
    """One row per code, with its terms and its counters of unrestored redemptions."""
    op.create_table(
        "ecrm_coupons",
        tenant_id(),
        sa.Column("code", Key(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("percent_bp", sa.Integer(), nullable=True),
        sa.Column("max_discount_minor", sa.BigInteger(), nullable=True),
        sa.Column("min_order_minor", sa.BigInteger(), nullable=True),
        sa.Column("valid_from", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("per_customer_limit", sa.Integer(), nullable=True),
        sa.Column("budget_minor", sa.BigInteger(), nullable=True),
        sa.Column("members_only", sa.Boolean(), nullable=False),
        sa.Column("issued_only", sa.Boolean(), nullable=False),
        sa.Column("tiers", JSONDocument(), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("discount_given_minor", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "code", name=op.f("pk_ecrm_coupons")),
        **MYSQL_OPTIONS,
    )


def create_coupon_redemptions() -> None:
    """One row per order that used a coupon; (code, order) is unique."""
    op.create_table(
        "ecrm_coupon_redemptions",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("code", Key(64), nullable=False),
        sa.Column("order_id", Key(128), nullable=False),
        sa.Column("customer_id", Key(36), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("order_total_minor", sa.BigInteger(), nullable=False),
        sa.Column("discount_minor", sa.BigInteger(), nullable=False),
        sa.Column("redeemed_at", UTCDateTime(), nullable=False),
        sa.Column("restored_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_coupon_redemptions")),
        coupon_fk("ecrm_coupon_redemptions"),
        customer_fk("ecrm_coupon_redemptions"),
        sa.UniqueConstraint("tenant_id", "code", "order_id",
                            name=op.f("uq_ecrm_coupon_redemptions_tenant_id_code_order_id")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_coupon_redemptions_tenant_id_customer_id_code"),
                    "ecrm_coupon_redemptions", ["tenant_id", "customer_id", "code"])


def create_coupon_issues() -> None:
    """One row per coupon handed to a customer."""
    op.create_table(
        "ecrm_coupon_issues",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("code", Key(64), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_coupon_issues")),
        coupon_fk("ecrm_coupon_issues"),
        customer_fk("ecrm_coupon_issues"),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_coupon_issues_tenant_id_code_customer_id"),
                    "ecrm_coupon_issues", ["tenant_id", "code", "customer_id"])
    op.create_index(op.f("ix_ecrm_coupon_issues_tenant_id_customer_id"),
                    "ecrm_coupon_issues", ["tenant_id", "customer_id"])
