"""Points debt and write-offs: what a refund's clawback could not take back from the lots.

Revision ID: ecrm_0003
Revises: ecrm_0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ecrm_0003"
down_revision: str | Sequence[str] | None = "ecrm_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("debt", "written_off")


def upgrade() -> None:
    """Add the two counters to every point transaction, zero for those already stored."""
    for name in COLUMNS:
        op.add_column("ecrm_point_transactions",
                      sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    """Drop the counters."""
    with op.batch_alter_table("ecrm_point_transactions") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
