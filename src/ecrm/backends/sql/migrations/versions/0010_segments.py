"""Saved segments: segments, their members and the history of customers entering and
leaving them.

Revision ID: ecrm_0010
Revises: ecrm_0009
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0010"
down_revision: str | Sequence[str] | None = "ecrm_0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the segment tables, the parent first."""
    create_segments()
    create_segment_members()
    create_segment_changes()


def downgrade() -> None:
    """Drop the segment tables, children first."""
    for table in ("ecrm_segment_changes", "ecrm_segment_members", "ecrm_segments"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def parents(table: str) -> list[sa.ForeignKeyConstraint]:
    """A child row's links to its segment and its customer."""
    return [
        sa.ForeignKeyConstraint(["tenant_id", "segment_id"],
                                ["ecrm_segments.tenant_id", "ecrm_segments.id"],
                                name=op.f(f"fk_{table}_ecrm_segments")),
        sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                name=op.f(f"fk_{table}_ecrm_customers")),
    ]


def index(table: str, *columns: str) -> None:
    """An index named by ecrm's convention."""
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def create_segments() -> None:
    """One row per segment; names are unique per tenant."""
    op.create_table(
        "ecrm_segments",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("rule", JSONDocument(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_segments")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_ecrm_segments_tenant_id_name")),
        **MYSQL_OPTIONS,
    )


def create_segment_members() -> None:
    """A segment's members by the primary key; a customer's memberships by the index."""
    op.create_table(
        "ecrm_segment_members",
        tenant_id(),
        sa.Column("segment_id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "segment_id", "customer_id",
                                name=op.f("pk_ecrm_segment_members")),
        *parents("ecrm_segment_members"),
        **MYSQL_OPTIONS,
    )
    index("ecrm_segment_members", "tenant_id", "customer_id")


def create_segment_changes() -> None:
    """Entries and exits: a segment's by (at, id), a customer's by the customer index."""
    op.create_table(
        "ecrm_segment_changes",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("segment_id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_segment_changes")),
        *parents("ecrm_segment_changes"),
        **MYSQL_OPTIONS,
    )
    index("ecrm_segment_changes", "tenant_id", "segment_id", "at", "id")
    index("ecrm_segment_changes", "tenant_id", "customer_id")
