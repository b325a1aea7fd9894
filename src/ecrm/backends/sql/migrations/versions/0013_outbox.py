"""The transactional outbox: messages waiting to be delivered, and their outcomes.

Revision ID: ecrm_0013
Revises: ecrm_0012
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0013"
down_revision: str | Sequence[str] | None = "ecrm_0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}
TABLE = "ecrm_outbox"
#: Indexes besides the primary key and the unique key: due messages in dispatch order, a
#: customer's messages, a campaign's counts.
INDEXES = (["tenant_id", "status", "priority", "due_at", "id"],
           ["tenant_id", "customer_id", "created_at"], ["tenant_id", "campaign_id", "status"])


def upgrade() -> None:
    """Create the outbox table and its indexes."""
    op.create_table(
        TABLE,
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("key", Key(128), nullable=False),
        sa.Column("customer_id", Key(36), nullable=True),
        *content_columns(),
        *state_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{TABLE}")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f(f"uq_{TABLE}_tenant_id_key")),
        sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                name=op.f(f"fk_{TABLE}_ecrm_customers")),
        **MYSQL_OPTIONS,
    )
    for columns in INDEXES:
        op.create_index(op.f(f"ix_{TABLE}_{'_'.join(columns)}"), TABLE, columns)


def downgrade() -> None:
    """Drop the outbox with its messages."""
    op.drop_table(TABLE)


def content_columns() -> list[sa.Column]:
    """What the message says, to whom, on which channel, for which campaign."""
    return [
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(500), nullable=True),
        sa.Column("body", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                  nullable=False),
        sa.Column("data", JSONDocument(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("campaign_id", Key(64), nullable=True),
        sa.Column("variant", sa.String(64), nullable=True),
        sa.Column("step", sa.String(64), nullable=True),
    ]


def state_columns() -> list[sa.Column]:
    """Where the message is in its life."""
    return [
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
    ]
