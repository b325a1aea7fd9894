"""Mined association models as stored: a named model's settings and figures, the baskets
it counts and the items in them.

A model counts the baskets (the distinct SKUs of each order that is not cancelled) placed
in its window: the last ``window_days`` days before each refresh, or all time. It keeps
the count of every item and itemset, so a refresh only adds the new baskets and takes
away those that left the window or were cancelled, and the rules that meet its
thresholds, so serving never recounts.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

import attrs

from ecrm.domain import validation as check
from ecrm.domain.association import AssociationRule, MiningThresholds
from ecrm.errors import ValidationError

#: The longest window, in days (about 30 years).
MAX_WINDOW_DAYS = 11_000


def model_name(value: object) -> str:
    """A model's name: ``[a-z][a-z0-9_]*``, at most 32 characters."""
    return check.identifier("name", value)


def window_days(value: object) -> int | None:
    """None (all time) or a positive number of days."""
    if value is None:
        return None
    days = check.positive_int("window_days", value)
    if days > MAX_WINDOW_DAYS:
        raise ValidationError("window_days", f"is {days}; at most {MAX_WINDOW_DAYS}")
    return days


@attrs.frozen
class AssociationModel:
    """A named model: its ``thresholds`` and window, how many ``baskets`` it counted and
    how many rules met the thresholds at its last refresh (``refreshed_at``), where its
    window started then (None: all time), and whether it keeps the counts that let a
    refresh work incrementally."""

    name: str
    thresholds: MiningThresholds
    window_days: int | None
    baskets: int
    rule_count: int
    window_start: datetime | None
    refreshed_at: datetime
    incremental: bool = True

    def window_at(self, now: datetime) -> datetime | None:
        """Where the window starts for a refresh at ``now``."""
        return None if self.window_days is None else now - timedelta(days=self.window_days)


@attrs.frozen
class Basket:
    """One counted order: its id, and the SKU and category (None when not given) of each
    of its lines, in line order (a SKU on two lines appears twice)."""

    order_id: str
    skus: tuple[str, ...]
    categories: tuple[str | None, ...]


@attrs.frozen
class ItemCount:
    """An item of a model: how many of its baskets hold it, and its category."""

    sku: str
    category: str | None
    baskets: int


#: What compact JSON would escape in a string; SKUs without any are written directly.
_ESCAPED = re.compile(r'["\\\x00-\x1f]')


def changed_item(sku: str, stored: ItemCount | None, change: int,
                 category: str | None) -> ItemCount:
    """An item's count after a refresh changed it by ``change`` baskets: the new
    ``category`` when the new baskets gave one, else the stored one. A count of 0 means
    the item goes."""
    kept = category if category is not None else (stored.category if stored else None)
    return ItemCount(sku, kept, (stored.baskets if stored else 0) + change)


def itemset_key(items: tuple[str, ...]) -> str:
    """How an itemset (sorted SKUs) is stored: a compact JSON array (built by hand when
    no SKU needs escaping, which is several times faster for a million itemsets)."""
    joined = '","'.join(items)
    if _ESCAPED.search(joined) is None:
        return f'["{joined}"]'
    return json.dumps(list(items), ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=65_536)
def itemset_from_key(key: str) -> tuple[str, ...]:
    """The itemset :func:`itemset_key` stored (cached: serving reads the same few
    thousand keys again and again)."""
    return tuple(json.loads(key))


def best_first(rules: Iterable[AssociationRule]) -> list[AssociationRule]:
    """Rules best first: confidence, lift and count descending, then by their items."""
    return sorted(rules, key=AssociationRule.sort_key)
