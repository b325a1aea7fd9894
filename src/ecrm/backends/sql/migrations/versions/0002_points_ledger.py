"""The points ledger: idempotency keys, point transactions, entries, lots and lot uses.

Revision ID: ecrm_0002
Revises: ecrm_0001
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import Key, UTCDateTime

revision: str = "ecrm_0002"
down_revision: str | Sequence[str] | None = "ecrm_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the ledger's tables, parents before children."""
    create_idempotency_keys()
    create_point_transactions()
    create_point_children()


def downgrade() -> None:
    """Drop the ledger's tables, children before parents."""
    for table in ("ecrm_point_lot_uses", "ecrm_point_lots", "ecrm_point_entries",
                  "ecrm_point_transactions", "ecrm_idempotency_keys"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def transaction_fk(table: str) -> sa.ForeignKeyConstraint:
    """A child row's link to its point transaction."""
    return sa.ForeignKeyConstraint(
        ["tenant_id", "transaction_id"],
        ["ecrm_point_transactions.tenant_id", "ecrm_point_transactions.id"],
        name=op.f(f"fk_{table}_ecrm_point_transactions"))


def create_idempotency_keys() -> None:
    """Keys claimed by idempotent writes, with a digest of the request they answered."""
    op.create_table(
        "ecrm_idempotency_keys",
        tenant_id(),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("key", Key(128), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result_id", Key(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "scope", "key",
                                name=op.f("pk_ecrm_idempotency_keys")),
        **MYSQL_OPTIONS,
    )


def create_point_transactions() -> None:
    """One row per change of a customer's points."""
    op.create_table(
        "ecrm_point_transactions",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("reverses_id", Key(36), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_point_transactions")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_point_transactions_tenant_id_customer_id_occurred_at"),
                    "ecrm_point_transactions", ["tenant_id", "customer_id", "occurred_at"])
    op.create_index(op.f("ix_ecrm_point_transactions_tenant_id_reverses_id"),
                    "ecrm_point_transactions", ["tenant_id", "reverses_id"])


def create_point_children() -> None:
    """Ledger entries, lots and lot uses, each belonging to a transaction."""
    op.create_table(
        "ecrm_point_entries",
        tenant_id(),
        sa.Column("transaction_id", Key(36), nullable=False),
        sa.Column("account", sa.String(32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "transaction_id", "account",
                                name=op.f("pk_ecrm_point_entries")),
        transaction_fk("ecrm_point_entries"),
        **MYSQL_OPTIONS,
    )
    op.create_table(
        "ecrm_point_lots",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("transaction_id", Key(36), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", UTCDateTime(), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_point_lots")),
        transaction_fk("ecrm_point_lots"),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_point_lots_tenant_id_customer_id"), "ecrm_point_lots",
                    ["tenant_id", "customer_id"])
    op.create_index(op.f("ix_ecrm_point_lots_tenant_id_expires_at"), "ecrm_point_lots",
                    ["tenant_id", "expires_at"])
    op.create_table(
        "ecrm_point_lot_uses",
        tenant_id(),
        sa.Column("transaction_id", Key(36), nullable=False),
        sa.Column("lot_id", Key(36), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "transaction_id", "lot_id",
                                name=op.f("pk_ecrm_point_lot_uses")),
        transaction_fk("ecrm_point_lot_uses"),
        **MYSQL_OPTIONS,
    )
