"""The append-only audit trail: who changed which customer, consent, points or case, and
when (no personal data; see docs/audit.md).

Revision ID: ecrm_0018
Revises: ecrm_0017
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0018"
down_revision: str | Sequence[str] | None = "ecrm_0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}
TABLE = "ecrm_audit_log"
#: A customer's entries, the whole log in time order, one record's entries.
INDEXES = (["tenant_id", "customer_id", "at", "id"], ["tenant_id", "at", "id"],
           ["tenant_id", "subject_kind", "subject_id", "at", "id"])


def upgrade() -> None:
    """Create the audit log and its indexes."""
    op.create_table(
        TABLE,
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", Key(128), nullable=True),
        sa.Column("action", Key(64), nullable=False),
        sa.Column("subject_kind", Key(32), nullable=False),
        sa.Column("subject_id", Key(128), nullable=False),
        sa.Column("customer_id", Key(128), nullable=True),
        sa.Column("details", JSONDocument(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{TABLE}")),
        **MYSQL_OPTIONS,
    )
    for columns in INDEXES:
        op.create_index(op.f(f"ix_{TABLE}_{'_'.join(columns)}"), TABLE, columns)


def downgrade() -> None:
    """Drop the audit log with its entries."""
    op.drop_table(TABLE)
