"""Consent per purpose (marketing, transactional) with an opt-in level, and the
suppression list.

The consent tables gain ``purpose`` (which joins the state's primary key) and ``level``.
Changing a primary key in place differs on every database (SQLite cannot at all), so
both tables are rebuilt: copied aside, dropped, created anew and filled back. Every
existing decision becomes a marketing one, its grants single opt-in.

Revision ID: ecrm_0012
Revises: ecrm_0011
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import Key, UTCDateTime

revision: str = "ecrm_0012"
down_revision: str | Sequence[str] | None = "ecrm_0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}

STATES, CHANGES = "ecrm_consents", "ecrm_consent_changes"
STATE_INDEX = "ix_ecrm_consents_tenant_id_channel_granted"
PURPOSE_STATE_INDEX = "ix_ecrm_consents_tenant_id_channel_purpose_granted"
CHANGE_INDEX = "ix_ecrm_consent_changes_tenant_id_customer_id_changed_at"


def upgrade() -> None:
    """Rebuild both consent tables with purpose and level; create the suppression list."""
    rebuild(STATES, state_columns, lambda: create_states(purposed=True),
            purposed=True)
    rebuild(CHANGES, change_columns, lambda: create_changes(purposed=True),
            purposed=True)
    create_suppressions()


def downgrade() -> None:
    """Drop the suppression list; rebuild the consent tables, keeping marketing only."""
    op.drop_table("ecrm_suppressions")
    rebuild(STATES, state_columns, lambda: create_states(purposed=False), purposed=False)
    rebuild(CHANGES, change_columns, lambda: create_changes(purposed=False),
            purposed=False)


def rebuild(table: str, columns: Callable[[], list[sa.Column]],
            create: Callable[[], None], *, purposed: bool) -> None:
    """Copy the shared ``columns`` of ``table`` aside, drop it,
    ``create`` it anew and copy the rows back: as marketing decisions when ``purposed``,
    else only the marketing ones."""
    aside = f"{table}_0012"
    names = ", ".join(column.name for column in columns())
    op.create_table(aside, *columns(), **MYSQL_OPTIONS)
    op.execute(f"INSERT INTO {aside} ({names}) SELECT {names} FROM {table}"
               + ("" if purposed else " WHERE purpose = 'marketing'"))
    op.drop_table(table)  # its indexes go with it
    create()
    if purposed:
        op.execute(f"INSERT INTO {table} ({names}, purpose, level) SELECT {names}, "
                   f"'marketing', CASE WHEN granted THEN 'single' END FROM {aside}")
    else:
        op.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {aside}")
    op.drop_table(aside)


def state_columns() -> list[sa.Column]:
    """The columns a state has in both versions, in the order of the 0009 table."""
    return [sa.Column("tenant_id", Key(64), nullable=False),
            sa.Column("customer_id", Key(36), nullable=False), *decision(),
            sa.Column("source", sa.String(200), nullable=True)]


def change_columns() -> list[sa.Column]:
    """The columns a recorded decision has in both versions, in the 0009 order."""
    return [sa.Column("tenant_id", Key(64), nullable=False),
            sa.Column("id", Key(36), nullable=False),
            sa.Column("customer_id", Key(36), nullable=False), *decision(),
            sa.Column("recorded_at", UTCDateTime(), nullable=False),
            sa.Column("source", sa.String(200), nullable=True)]


def decision() -> list[sa.Column]:
    """The columns of a decision: channel, granted or not, and when."""
    return [sa.Column("channel", sa.String(32), nullable=False),
            sa.Column("granted", sa.Boolean(), nullable=False),
            sa.Column("changed_at", UTCDateTime(), nullable=False)]


def purpose_column() -> sa.Column:
    """What a decision is for: ``marketing``, ``transactional``, ..."""
    return sa.Column("purpose", sa.String(32), nullable=False)


def level_column() -> sa.Column:
    """A grant's opt-in level: ``single`` or ``confirmed``."""
    return sa.Column("level", sa.String(16), nullable=True)


def customer_fk(table: str) -> sa.ForeignKeyConstraint:
    """A row's link to its customer."""
    return sa.ForeignKeyConstraint(["tenant_id", "customer_id"],
                                   ["ecrm_customers.tenant_id", "ecrm_customers.id"],
                                   name=op.f(f"fk_{table}_ecrm_customers"))


def create_states(*, purposed: bool) -> None:
    """One row per customer, channel (and purpose), with an index for who is opted in
    where."""
    key = ["tenant_id", "customer_id", "channel"] + (["purpose"] if purposed else [])
    columns = state_columns()
    if purposed:  # the metadata's order: purpose right after channel, level last
        columns[3:3] = [purpose_column()]
        columns.append(level_column())
    op.create_table(STATES, *columns,
                    sa.PrimaryKeyConstraint(*key, name=op.f("pk_ecrm_consents")),
                    customer_fk(STATES), **MYSQL_OPTIONS)
    indexed = ["tenant_id", "channel"] + (["purpose"] if purposed else []) + ["granted"]
    op.create_index(op.f(PURPOSE_STATE_INDEX if purposed else STATE_INDEX), STATES, indexed)


def create_changes(*, purposed: bool) -> None:
    """The append-only history, read per customer by decision time."""
    extra = [purpose_column(), level_column()] if purposed else []
    op.create_table(CHANGES, *change_columns(), *extra,
                    sa.PrimaryKeyConstraint("tenant_id", "id",
                                            name=op.f("pk_ecrm_consent_changes")),
                    customer_fk(CHANGES), **MYSQL_OPTIONS)
    op.create_index(op.f(CHANGE_INDEX), CHANGES, ["tenant_id", "customer_id", "changed_at"])


def create_suppressions() -> None:
    """Addresses never to send to, by channel."""
    op.create_table(
        "ecrm_suppressions",
        sa.Column("tenant_id", Key(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "channel", "address",
                                name=op.f("pk_ecrm_suppressions")),
        **MYSQL_OPTIONS,
    )
