"""Marketing consent: the current state per customer and channel, and the history of
decisions.

Revision ID: ecrm_0009
Revises: ecrm_0008
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import Key, UTCDateTime

revision: str = "ecrm_0009"
down_revision: str | Sequence[str] | None = "ecrm_0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create the state and history tables."""
    create_consents()
    create_consent_changes()


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("ecrm_consent_changes")
    op.drop_table("ecrm_consents")


def customer_fk(table: str) -> sa.ForeignKeyConstraint:
    """A row's link to its customer."""
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                   ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                   name=op.f(f"fk_{table}_ecrm_customers"))


def decision() -> list[sa.Column]:
    """The columns of a decision: channel, granted or not, when, and where from."""
    return [sa.Column("channel", sa.String(32), nullable=False),
            sa.Column("granted", sa.Boolean(), nullable=False),
            sa.Column("changed_at", UTCDateTime(), nullable=False)]


def create_consents() -> None:
    """One row per customer and channel, with an index for who is opted in where."""
    op.create_table(
        "ecrm_consents",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        *decision(),
        sa.Column("source", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "customer_id", "channel",
                                name=op.f("pk_ecrm_consents")),
        customer_fk("ecrm_consents"),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_consents_tenant_id_channel_granted"), "ecrm_consents",
                    ["tenant_id", "channel", "granted"])


def create_consent_changes() -> None:
    """The append-only history, read per customer by decision time."""
    op.create_table(
        "ecrm_consent_changes",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        *decision(),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_consent_changes")),
        customer_fk("ecrm_consent_changes"),
        **MYSQL_OPTIONS,
    )
    op.create_index(op.f("ix_ecrm_consent_changes_tenant_id_customer_id_changed_at"),
                    "ecrm_consent_changes", ["tenant_id", "customer_id", "changed_at"])
