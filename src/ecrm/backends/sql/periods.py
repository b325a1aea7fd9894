"""Calendar periods in SQL without a database's date functions (which differ between
SQLite, PostgreSQL and MySQL/MariaDB, and know nothing of the shop's time zone).

The UTC instants at which periods begin are worked out in Python
(:mod:`ecrm.domain.periods`); a statement numbers each stored UTC time by comparing it
with them, bound as parameters, in a balanced tree of CASE expressions: about
log2(periods) comparisons a row.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, case, literal, literal_column
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql.types import UTCDateTime


def period_index(moment: ColumnElement[Any], starts: Sequence[datetime]
                 ) -> ColumnElement[int]:
    """The number of the period that holds ``moment`` (a UTC time column), given the
    instants ``starts`` (ascending) at which consecutive periods begin; ``moment`` must
    not lie before the first. With one period or none, 0."""

    def node(low: int, high: int) -> ColumnElement[int]:
        if low >= high:
            return literal_column(str(low), Integer)
        middle = (low + high + 1) // 2  # the first period of the upper half
        return case((moment < literal(starts[middle], UTCDateTime()), node(low, middle - 1)),
                    else_=node(middle, high))

    return node(0, len(starts) - 1)
