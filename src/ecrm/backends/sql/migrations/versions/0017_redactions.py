"""Erasure records (``ecrm_redactions``): which customer was erased when, and how many
rows of each kind were blanked.

Revision ID: ecrm_0017
Revises: ecrm_0016
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0017"
down_revision: str | Sequence[str] | None = "ecrm_0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the table and its index by customer."""
    op.create_table(
        "ecrm_redactions",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("erased_at", UTCDateTime(), nullable=False),
        sa.Column("removed", JSONDocument(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_redactions")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_redactions_tenant_id_customer_id"), "ecrm_redactions",
                    ["tenant_id", "customer_id"])


def downgrade() -> None:
    """Drop the table (and its index with it)."""
    op.drop_table("ecrm_redactions")
