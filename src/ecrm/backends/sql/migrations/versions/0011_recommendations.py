"""Recommendations: hand-written rules, and mined association models with their items,
itemset counts, rules and counted orders.

Revision ID: ecrm_0011
Revises: ecrm_0010
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from ecrm.backends.sql.types import JSONDocument, Key, UTCDateTime

revision: str = "ecrm_0011"
down_revision: str | Sequence[str] | None = "ecrm_0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin",
                                 "mysql_engine": "InnoDB"}

#: A model's child tables, children of ``ecrm_association_models``.
MODEL_CHILDREN = ("ecrm_association_orders", "ecrm_association_rules",
                  "ecrm_association_itemsets", "ecrm_association_items")


def upgrade() -> None:
    """Create the rule table, then each model table, the parent first."""
    create_recommendation_rules()
    create_association_models()
    create_association_items()
    create_association_itemsets()
    create_association_rules()
    create_association_orders()


def downgrade() -> None:
    """Drop the tables, children first."""
    for table in (*MODEL_CHILDREN, "ecrm_association_models", "ecrm_recommendation_rules"):
        op.drop_table(table)


def tenant_id() -> sa.Column:
    """The leading column of every table and of every key."""
    return sa.Column("tenant_id", Key(64), nullable=False)


def model_child(table: str, *columns: sa.Column) -> None:
    """A table of one model's rows: tenant, model, ``columns``; keyed by every key
    column given, linked to the model."""
    keys = ["tenant_id", "model", *(c.name for c in columns if c.primary_key)]
    for column in columns:
        column.primary_key = False
    op.create_table(
        table,
        tenant_id(),
        sa.Column("model", Key(64), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}")),
        sa.ForeignKeyConstraint(["tenant_id", "model"],
                                ["ecrm_association_models.tenant_id",
                                 "ecrm_association_models.name"],
                                name=op.f(f"fk_{table}_ecrm_association_models")),
        **MYSQL_OPTIONS,
    )


def create_recommendation_rules() -> None:
    """Hand-written rules; names are unique per tenant."""
    op.create_table(
        "ecrm_recommendation_rules",
        tenant_id(),
        sa.Column("id", Key(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("triggers", sa.String(40), nullable=False),
        *(sa.Column(name, JSONDocument(), nullable=False)
          for name in ("if_skus", "if_categories", "suggest_skus", "suggest_categories")),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("valid_from", UTCDateTime(), nullable=True),
        sa.Column("valid_until", UTCDateTime(), nullable=True),
        sa.Column("segment_id", Key(36), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ecrm_recommendation_rules")),
        sa.UniqueConstraint("tenant_id", "name",
                            name=op.f("uq_ecrm_recommendation_rules_tenant_id_name")),
        **MYSQL_OPTIONS,
    )


def create_association_models() -> None:
    """One row per named model: its settings and figures."""
    op.create_table(
        "ecrm_association_models",
        tenant_id(),
        sa.Column("name", Key(64), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=True),
        *(sa.Column(name, sa.Double(), nullable=False)
          for name in ("min_support", "min_confidence", "min_lift", "min_leverage",
                       "min_conviction")),
        sa.Column("max_length", sa.Integer(), nullable=False),
        sa.Column("baskets", sa.BigInteger(), nullable=False),
        sa.Column("rule_count", sa.Integer(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=True),
        sa.Column("refreshed_at", UTCDateTime(), nullable=False),
        sa.Column("incremental", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_ecrm_association_models")),
        **MYSQL_OPTIONS,
    )


def create_association_items() -> None:
    """Every item of a model's baskets, with the best-seller indexes."""
    table = "ecrm_association_items"
    model_child(table,
                sa.Column("sku", Key(64), nullable=False, primary_key=True),
                sa.Column("category", sa.String(64), nullable=True),
                sa.Column("baskets", sa.BigInteger(), nullable=False))
    for columns in (["tenant_id", "model", "baskets"],
                    ["tenant_id", "model", "category", "baskets"]):
        op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, columns)


def create_association_itemsets() -> None:
    """The basket count of every itemset of two or more items."""
    model_child("ecrm_association_itemsets",
                sa.Column("itemset", Key(300), nullable=False, primary_key=True),
                sa.Column("baskets", sa.BigInteger(), nullable=False))


def create_association_rules() -> None:
    """The rules that met the thresholds, keyed by antecedent and rank for serving."""
    model_child("ecrm_association_rules",
                sa.Column("antecedent", Key(210), nullable=False, primary_key=True),
                sa.Column("position", sa.Integer(), nullable=False, primary_key=True,
                          autoincrement=False),
                sa.Column("consequent", Key(210), nullable=False),
                *(sa.Column(name, sa.BigInteger(), nullable=False)
                  for name in ("antecedent_count", "consequent_count", "both_count")))


def create_association_orders() -> None:
    """The orders each model has counted."""
    model_child("ecrm_association_orders",
                sa.Column("order_id", Key(128), nullable=False, primary_key=True))
