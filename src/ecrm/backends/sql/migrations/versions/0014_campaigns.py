"""Campaigns and the members of their audiences.

Revision ID: ecrm_0014
Revises: ecrm_0013
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0014"
down_revision: str | Sequence[str] | None = "ecrm_0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the campaign table, then its members."""
    create_campaigns()
    create_campaign_members()


def downgrade() -> None:
    """Drop both, the members first."""
    op.drop_table("ecrm_campaign_members")
    op.drop_table("ecrm_campaigns")


def create_campaigns() -> None:
    """One row per campaign, unique by name, found by status and schedule."""
    op.create_table(
        "ecrm_campaigns",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("segment_id", Key(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("content", JSONDocument(), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=True),
        sa.Column("launched_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("cursor", Key(36), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_campaigns")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_ecrm_campaigns_tenant_id_name")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_campaigns_tenant_id_status_scheduled_at"), "ecrm_campaigns",
                    ["tenant_id", "status", "scheduled_at"])


def create_campaign_members() -> None:
    """One row per campaign and member, found by customer for attribution."""
    op.create_table(
        "ecrm_campaign_members",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("campaign_id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("variant", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("message_id", Key(36), nullable=True),
        sa.Column("coupon_code", Key(64), nullable=True),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "campaign_id", "customer_id",
                                name=op.f("pk_ecrm_campaign_members")),
        sa.ForeignKeyConstraint(["tenant_id", "campaign_id"],
                                ["ecrm_campaigns.tenant_id", "ecrm_campaigns.id"],
                                name=op.f("fk_ecrm_campaign_members_ecrm_campaigns")),
        sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                name=op.f("fk_ecrm_campaign_members_ecrm_customers")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_campaign_members_tenant_id_customer_id"),
                    "ecrm_campaign_members", ["tenant_id", "customer_id"])
