"""Referrals: a code per customer, and who referred whom.

Revision ID: ecrm_0006
Revises: ecrm_0005
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import Key, UTCDateTime

revision: str = "ecrm_0006"
down_revision: str | Sequence[str] | None = "ecrm_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the codes and referrals tables."""
    op.create_table(
        "ecrm_referral_codes",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("code", Key(64), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "code", name=op.f("pk_ecrm_referral_codes")),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_referral_codes_tenant_id_customer_id"),
                    "ecrm_referral_codes", ["tenant_id", "customer_id"])
    op.create_table(
        "ecrm_referrals",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("referee_id", Key(36), nullable=False),
        sa.Column("referrer_id", Key(36), nullable=False),
        sa.Column("code", Key(64), nullable=False),
        sa.Column("referred_at", UTCDateTime(), nullable=False),
        sa.Column("rewarded_at", UTCDateTime(), nullable=True),
        sa.Column("order_id", Key(128), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_referrals")),
        **MYSQL_OPTIONS,
    )
    for column in ("referee_id", "referrer_id"):
        op.create_index(op.f(f"ix_ecrm_referrals_tenant_id_{column}"), "ecrm_referrals",
                        ["tenant_id", column])


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("ecrm_referrals")
    op.drop_table("ecrm_referral_codes")
