"""Support cases: cases with their order links, status history, message threads, SLA
breaches and satisfaction surveys.

Revision ID: ecrm_0008
Revises: ecrm_0007
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0008"
down_revision: str | Sequence[str] | None = "ecrm_0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}

#: Children of ``ecrm_cases``, dropped before it.
CHILDREN = ("ecrm_case_surveys", "ecrm_sla_breaches", "ecrm_case_messages",
            "ecrm_case_status_changes", "ecrm_case_orders")


def upgrade() -> None:
    """Create the case tables, parents before children."""
    create_cases()
    create_case_orders()
    create_case_status_changes()
    create_case_messages()
    create_sla_breaches()
    create_case_surveys()


def downgrade() -> None:
    """Drop the case tables, children before parents."""
    for table in (*CHILDREN, "ecrm_cases"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def case_id() -> sa.Column:
    """A child row's case."""
    return sa.Column("case_id", Key(36), nullable=False)


def case_fk(table: str) -> sa.ForeignKeyConstraint:
    """A child row's link to its case."""
    return sa.ForeignKeyConstraint(["tenant_id", "case_id"],
                                   ["ecrm_cases.tenant_id", "ecrm_cases.id"],
                                   name=op.f(f"fk_{table}_ecrm_cases"))


def customer_fk(table: str) -> sa.ForeignKeyConstraint:
    """A row's link to its customer."""
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                   ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                   name=op.f(f"fk_{table}_ecrm_customers"))


def index(table: str, *columns: str) -> None:
    """An index named by ecrm's convention."""
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns))


def create_cases() -> None:
    """One row per case, with indexes for the customer's cases, the active scan and
    figures by period."""
    op.create_table(
        "ecrm_cases",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("root_cause", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("tags", JSONDocument(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("first_response_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_cases")),
        customer_fk("ecrm_cases"),
        **MYSQL_OPTIONS,
    )
    index("ecrm_cases", "tenant_id", "customer_id", "opened_at", "id")
    index("ecrm_cases", "tenant_id", "status", "id")
    index("ecrm_cases", "tenant_id", "opened_at")


def create_case_orders() -> None:
    """The orders each case is about, in the order given; the order index covers the
    case id, so that finding an order's cases reads no other row."""
    op.create_table(
        "ecrm_case_orders",
        tenant_id(),
        case_id(),
        sa.Column("order_id", Key(128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "case_id", "order_id",
                                name=op.f("pk_ecrm_case_orders")),
        case_fk("ecrm_case_orders"),
        **MYSQL_OPTIONS,
    )
    index("ecrm_case_orders", "tenant_id", "order_id", "case_id")


def create_case_status_changes() -> None:
    """Each case's status history, numbered from 1."""
    op.create_table(
        "ecrm_case_status_changes",
        tenant_id(),
        case_id(),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("old", sa.String(16), nullable=True),
        sa.Column("new", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "case_id", "seq",
                                name=op.f("pk_ecrm_case_status_changes")),
        case_fk("ecrm_case_status_changes"),
        **MYSQL_OPTIONS,
    )


def create_case_messages() -> None:
    """Each case's thread; the external id is unique per channel. Bodies of up to 50,000
    characters need MEDIUMTEXT on MySQL/MariaDB."""
    op.create_table(
        "ecrm_case_messages",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        case_id(),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("body", sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb"),
                  nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("author", sa.String(128), nullable=True),
        sa.Column("external_id", Key(128), nullable=True),
        sa.Column("payload", JSONDocument(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_case_messages")),
        case_fk("ecrm_case_messages"),
        customer_fk("ecrm_case_messages"),
        sa.UniqueConstraint("tenant_id", "channel", "external_id",
                            name=op.f("uq_ecrm_case_messages_tenant_id_channel_external_id")),
        **MYSQL_OPTIONS,
    )
    index("ecrm_case_messages", "tenant_id", "case_id", "occurred_at", "id")
    index("ecrm_case_messages", "tenant_id", "customer_id", "occurred_at", "id")
    index("ecrm_case_messages", "tenant_id", "external_id")


def create_sla_breaches() -> None:
    """At most one breach per case and metric."""
    op.create_table(
        "ecrm_sla_breaches",
        tenant_id(),
        case_id(),
        sa.Column("metric", sa.String(16), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("detected_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "case_id", "metric",
                                name=op.f("pk_ecrm_sla_breaches")),
        case_fk("ecrm_sla_breaches"),
        **MYSQL_OPTIONS,
    )


def create_case_surveys() -> None:
    """Satisfaction surveys and their answers."""
    op.create_table(
        "ecrm_case_surveys",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        case_id(),
        sa.Column("customer_id", Key(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("comment", sa.String(2000), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_case_surveys")),
        case_fk("ecrm_case_surveys"),
        customer_fk("ecrm_case_surveys"),
        **MYSQL_OPTIONS,
    )
    index("ecrm_case_surveys", "tenant_id", "case_id")
    index("ecrm_case_surveys", "tenant_id", "customer_id")
