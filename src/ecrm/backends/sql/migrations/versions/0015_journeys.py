"""Triggered journeys and their enrollments.

Revision ID: ecrm_0015
Revises: ecrm_0014
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0015"
down_revision: str | Sequence[str] | None = "ecrm_0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the journey table, then its enrollments."""
    create_journeys()
    create_journey_enrollments()


def downgrade() -> None:
    """Drop both, the enrollments first."""
    op.drop_table("ecrm_journey_enrollments")
    op.drop_table("ecrm_journeys")


def create_journeys() -> None:
    """One row per journey, unique by name."""
    op.create_table(
        "ecrm_journeys",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("definition", JSONDocument(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_journeys")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_ecrm_journeys_tenant_id_name")),
        **MYSQL_OPTIONS,
    )


def create_journey_enrollments() -> None:
    """One row per journey and occasion, found by due time and by customer."""
    op.create_table(
        "ecrm_journey_enrollments",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("journey_id", Key(36), nullable=False),
        sa.Column("occasion", Key(200), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("enrolled_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "journey_id", "occasion",
                                name=op.f("pk_ecrm_journey_enrollments")),
        sa.ForeignKeyConstraint(["tenant_id", "journey_id"],
                                ["ecrm_journeys.tenant_id", "ecrm_journeys.id"],
                                name=op.f("fk_ecrm_journey_enrollments_ecrm_journeys")),
        sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                name=op.f("fk_ecrm_journey_enrollments_ecrm_customers")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_journey_enrollments_tenant_id_status_due_at"),
                    "ecrm_journey_enrollments", ["tenant_id", "status", "due_at"])
    op.create_index(op.f("ix_ecrm_journey_enrollments_tenant_id_customer_id"),
                    "ecrm_journey_enrollments", ["tenant_id", "customer_id"])
