"""Interactions: every touchpoint with a customer, on every channel.

Revision ID: ecrm_0007
Revises: ecrm_0006
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0007"
down_revision: str | Sequence[str] | None = "ecrm_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the interactions table and its timeline and retention indexes."""
    op.create_table(
        "ecrm_interactions",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=True),
        sa.Column("reference", sa.String(128), nullable=True),
        sa.Column("external_id", Key(128), nullable=True),
        sa.Column("payload", JSONDocument(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_interactions")),
        sa.UniqueConstraint("tenant_id", "channel", "external_id",
                            name=op.f("uq_ecrm_interactions_tenant_id_channel_external_id")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_interactions_tenant_id_customer_id_occurred_at_id"),
                    "ecrm_interactions", ["tenant_id", "customer_id", "occurred_at", "id"])
    op.create_index(op.f("ix_ecrm_interactions_tenant_id_occurred_at"), "ecrm_interactions",
                    ["tenant_id", "occurred_at"])


def downgrade() -> None:
    """Drop the interactions table."""
    op.drop_table("ecrm_interactions")
