"""Member tiers: one status per customer and the log of tier changes.

Revision ID: ecrm_0004
Revises: ecrm_0003
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import Key, UTCDateTime

revision: str = "ecrm_0004"
down_revision: str | Sequence[str] | None = "ecrm_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the status and change tables."""
    op.create_table(
        "ecrm_tier_status",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("tier", sa.String(64), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("floor", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", name=op.f("pk_ecrm_tier_status")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_tier_status_tenant_id_valid_until"), "ecrm_tier_status",
                    ["tenant_id", "valid_until"])
    op.create_table(
        "ecrm_tier_changes",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("from_tier", sa.String(64), nullable=True),
        sa.Column("to_tier", sa.String(64), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("qualifying", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_tier_changes")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_tier_changes_tenant_id_customer_id_changed_at"),
                    "ecrm_tier_changes", ["tenant_id", "customer_id", "changed_at"])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("ecrm_tier_changes")
    op.drop_table("ecrm_tier_status")
