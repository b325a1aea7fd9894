"""Itemset counts over order baskets: the counting half of association-rule mining.

A basket is the set of distinct SKUs of one order; an itemset is a sorted tuple of SKUs.
:class:`ItemsetCounter` keeps the count of *every* itemset of 1..``max_length`` items and
follows additions and removals of baskets exactly, so a stored count can be refreshed
incrementally. :func:`mine_frequent` counts only what can be frequent, level by level
(Apriori), for a full rebuild.

Which itemsets are frequent follows mlxtend's ``fpgrowth`` to the bit, see
:func:`frequency_floors`.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, combinations, compress, repeat
from types import MappingProxyType
from typing import TypeVar, cast

import attrs

from ecrm.errors import ValidationError

Itemset = tuple[str, ...]
#: An itemset of SKU codes (see :func:`encoded_rows`) while counting.
Row = tuple[int, ...]
#: A SKU or its code.
K = TypeVar("K", str, int)
MIN_LENGTH, MAX_LENGTH = 2, 4


def check_max_length(value: object, field: str = "max_length") -> int:
    """``value`` when it is an int from 2 to 4, else :class:`ValidationError`."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or not MIN_LENGTH <= value <= MAX_LENGTH:
        raise ValidationError(field, f"must be an integer from {MIN_LENGTH} to {MAX_LENGTH}, "
                                     f"got {value!r}")
    return value


def check_fraction(field: str, value: object, low: float, high: float, *,
                   open_low: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` when ``open_low``); bools,
    non-numbers and NaN raise :class:`ValidationError` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field, f"expected a number, got {type(value).__name__}")
    number = float(value)
    if math.isnan(number) or number < low or number > high or (open_low and number == low):
        bracket = "(" if open_low else "["
        raise ValidationError(field, f"must be in {bracket}{low:g}, {high:g}], got {value!r}")
    return number


def check_support(value: object, field: str = "min_support") -> float:
    """A minimum support: a number in ``(0, 1]``, as mlxtend accepts."""
    return check_fraction(field, value, 0.0, 1.0, open_low=True)


def distinct(basket: Iterable[str]) -> frozenset[str]:
    """The distinct SKUs of ``basket``. A lone string is refused: it would read as its
    letters."""
    if isinstance(basket, str):
        raise ValidationError("basket", "expected a collection of SKUs, got a string")
    return frozenset(basket)


def distinct_sorted(basket: Iterable[str]) -> Itemset:
    """The distinct SKUs of ``basket``, sorted."""
    return tuple(sorted(distinct(basket)))


def _subsets(items: Itemset, max_length: int) -> Iterator[Itemset]:
    """Every non-empty sub-itemset of ``items`` with at most ``max_length`` items."""
    return chain.from_iterable(combinations(items, k) for k in range(1, max_length + 1))


class ItemsetCounter:
    """Counts of every itemset of 1..max_length items over baskets, updated incrementally.

    Nothing is pruned: ``counts()`` holds every itemset seen in at least one basket, so
    removing a basket is the exact inverse of adding it.
    """

    __slots__ = ("_counts", "baskets", "max_length")

    def __init__(self, max_length: int = 2) -> None:
        self.max_length = check_max_length(max_length)
        self.baskets = 0
        self._counts: dict[Itemset, int] = {}

    def add(self, basket: Iterable[str]) -> None:
        """Count one basket; a SKU repeated within it counts once."""
        counts = self._counts
        for itemset in _subsets(distinct_sorted(basket), self.max_length):
            counts[itemset] = counts.get(itemset, 0) + 1
        self.baskets += 1

    def remove(self, basket: Iterable[str]) -> None:
        """Uncount one basket added before. A basket that was never added raises
        ``ValueError`` and changes nothing (an empty basket has no itemsets to tell: it
        only needs a basket counted); counts reaching zero disappear."""
        itemsets = list(_subsets(distinct_sorted(basket), self.max_length))
        counts = self._counts
        if self.baskets == 0 or any(counts.get(itemset, 0) < 1 for itemset in itemsets):
            raise ValueError(f"basket {basket!r} was never added")
        for itemset in itemsets:
            left = counts[itemset] - 1
            if left:
                counts[itemset] = left
            else:
                del counts[itemset]
        self.baskets -= 1

    def counts(self) -> Mapping[Itemset, int]:
        """A read-only live view: sorted SKU tuple -> number of baskets holding it."""
        return MappingProxyType(self._counts)

    def merge(self, counts: Mapping[Itemset, int], baskets: int) -> None:
        """Add counts stored earlier (``counts()`` of another counter over ``baskets``
        baskets), e.g. to refresh stored counts with new orders only."""
        if isinstance(baskets, bool) or not isinstance(baskets, int) or baskets < 0:
            raise ValidationError("baskets", f"must be an integer >= 0, got {baskets!r}")
        for itemset, count in counts.items():
            _check_stored(itemset, count, self.max_length)
        mine = self._counts
        for itemset, count in counts.items():
            mine[itemset] = mine.get(itemset, 0) + count
        self.baskets += baskets


def _check_stored(itemset: object, count: object, max_length: int) -> None:
    """A stored count must be a positive int of a sorted, distinct tuple of 1..max_length
    SKUs."""
    if not isinstance(itemset, tuple) or not 1 <= len(itemset) <= max_length \
            or list(itemset) != sorted(set(itemset)):
        raise ValidationError("counts", f"{itemset!r} is not a sorted tuple of 1 to "
                                        f"{max_length} distinct SKUs")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValidationError("counts", f"count of {itemset!r} must be a positive integer")


def basket_list(baskets: Iterable[Iterable[str]]) -> list[Collection[str]]:
    """``baskets`` as a list of collections (an iterator basket becomes a tuple), once
    checked that none is a lone string."""
    listed = list(baskets)
    kinds = set(map(type, listed))
    if any(issubclass(kind, str) for kind in kinds):
        raise ValidationError("basket", "expected a collection of SKUs, got a string")
    if all(issubclass(kind, Collection) for kind in kinds):
        return cast(list[Collection[str]], listed)
    return list(map(tuple, listed))


def encoded_rows(baskets: Iterable[Iterable[str]], skus: Sequence[str]) -> list[Row]:
    """Each basket as the sorted tuple of the distinct codes of its SKUs among ``skus``
    (sorted; SKU ``skus[i]`` is code ``i + 1``, and SKUs not in ``skus`` are left out).

    Small ints hash and compare faster than SKU texts, so counting is quicker. The rows are
    built by C-level ``map`` calls into tuples of ints, which the cyclic garbage collector
    stops tracking: a million lists or sets would make it walk them all again and again."""
    code = {sku: number for number, sku in enumerate(skus, 1)}.get
    present = map(filter, repeat(None), map(map, repeat(code), baskets))
    return list(map(tuple, map(sorted, map(set, present))))


def decoded(counts: Mapping[Row, int], skus: Sequence[str]) -> dict[Itemset, int]:
    """``counts`` keyed by SKU tuples instead of :func:`encoded_rows` codes."""
    name = ("", *skus).__getitem__
    return {tuple(map(name, row)): count for row, count in counts.items()}


def _combinations(rows: Iterable[Row], k: int) -> Iterator[Row]:
    """Every ``k``-item combination of every row, in one stream."""
    return chain.from_iterable(map(combinations, rows, repeat(k)))


def count_itemsets(baskets: Iterable[Iterable[str]], max_length: int = 2) -> ItemsetCounter:
    """An :class:`ItemsetCounter` of all ``baskets`` at once (the fast full rebuild)."""
    counter = ItemsetCounter(max_length)
    baskets = basket_list(baskets)
    skus = sorted(set(chain.from_iterable(baskets)))
    rows = encoded_rows(baskets, skus)
    counts: Counter[Row] = Counter()
    for k in range(1, counter.max_length + 1):
        counts.update(_combinations(rows, k))
    counter._counts = decoded(counts, skus)
    counter.baskets = len(rows)
    return counter


# -- frequency ---------------------------------------------------------------------------

def frequency_floors(baskets: int, min_support: float) -> tuple[int, int]:
    """The least count a frequent single SKU and a frequent larger itemset need among
    ``baskets`` baskets, as mlxtend's ``fpgrowth`` decides.

    A single SKU is frequent when ``count / float(baskets) >= min_support``; a larger
    itemset must also reach ``math.ceil(min_support * baskets)``, which the float product
    can round one above (7 of 25 baskets at ``min_support=7/25``). The exception, a data set
    whose baskets form one chain, is :func:`is_chain`.
    """
    single = max(math.floor(min_support * baskets) - 2, 1)
    while single / float(baskets) < min_support:
        single += 1
    return single, max(single, math.ceil(min_support * baskets))


def is_chain(single: Mapping[K, int], pair_count: Mapping[tuple[K, ...], int]) -> bool:
    """Whether the baskets, cut down to the frequent SKUs ``single``, are nested in one
    another: every pair's count equals the smaller of its SKUs' counts. mlxtend's FP-tree is
    then one path, and it keeps every itemset by the float test alone."""
    items = sorted(single)
    return all(pair_count.get(pair, 0) == min(single[pair[0]], single[pair[1]])
               for pair in combinations(items, 2))


def _larger_floor(single: Mapping[K, int], pair_count: Mapping[tuple[K, ...], int],
                  floors: tuple[int, int]) -> int:
    """The least count of a frequent itemset of two or more SKUs (see
    :func:`frequency_floors` and :func:`is_chain`)."""
    single_floor, floor = floors
    if floor > single_floor and is_chain(single, pair_count):
        return single_floor
    return floor


def _keep_frequent(counts: Mapping[tuple[K, ...], int], single: Mapping[K, int], floor: int
                   ) -> dict[tuple[K, ...], int]:
    """The frequent singles, then the larger itemsets of ``counts`` reaching ``floor``."""
    kept: dict[tuple[K, ...], int] = {(sku,): count for sku, count in single.items()}
    kept.update((itemset, count) for itemset, count in counts.items()
                if len(itemset) > 1 and count >= floor)
    return kept


@attrs.frozen
class FrequentItemsets:
    """The frequent itemsets of ``baskets`` baskets: sorted SKU tuple -> count."""

    baskets: int
    counts: Mapping[Itemset, int] = attrs.field(
        converter=lambda counts: MappingProxyType(dict(counts)))

    def support(self, itemset: Itemset) -> float:
        """``count / float(baskets)`` of a frequent itemset (mlxtend's support)."""
        return self.counts[itemset] / float(self.baskets)

    @classmethod
    def from_counts(cls, counts: Mapping[Itemset, int], baskets: int, min_support: float
                    ) -> FrequentItemsets:
        """Prune the full counts of an :class:`ItemsetCounter` over ``baskets`` baskets to
        the frequent itemsets."""
        min_support = check_support(min_support)
        if baskets <= 0:
            return cls(0, {})
        floors = frequency_floors(baskets, min_support)
        single = {itemset[0]: count for itemset, count in counts.items()
                  if len(itemset) == 1 and count >= floors[0]}
        floor = _larger_floor(single, counts, floors)
        return cls(baskets, _keep_frequent(counts, single, floor))


def _candidates(frequent: Iterable[Row]) -> set[Row]:
    """Apriori candidates one item longer than ``frequent`` (all of one length): joins of
    two itemsets sharing all but their last SKU, whose every subset is frequent."""
    by_prefix: defaultdict[Row, list[int]] = defaultdict(list)
    known = set(frequent)
    for itemset in sorted(known):
        by_prefix[itemset[:-1]].append(itemset[-1])
    found = set()
    for prefix, lasts in by_prefix.items():
        for a, b in combinations(lasts, 2):
            candidate = (*prefix, a, b)
            if all(sub in known for sub in combinations(candidate, len(candidate) - 1)):
                found.add(candidate)
    return found


def _count_level(rows: Sequence[Row], k: int, candidates: set[Row]) -> Counter[Row]:
    """Counts of the ``k``-item ``candidates`` over ``rows``."""
    return Counter(itemset for row in rows if len(row) >= k
                   for itemset in combinations(row, k) if itemset in candidates)


def mine_frequent(baskets: Iterable[Iterable[str]], min_support: float, max_length: int
                  ) -> FrequentItemsets:
    """The frequent itemsets of up to ``max_length`` SKUs, counted level by level: single
    SKUs, then pairs of frequent SKUs, then only candidates whose subsets are all
    frequent."""
    min_support, max_length = check_support(min_support), check_max_length(max_length)
    baskets = basket_list(baskets)
    n = len(baskets)
    if not n:
        return FrequentItemsets(0, {})
    floors = frequency_floors(n, min_support)
    counted = Counter(chain.from_iterable(map(set, baskets)))
    skus = sorted(sku for sku, count in counted.items() if count >= floors[0])
    several = compress(baskets, map((1).__lt__, map(len, baskets)))
    rows = [row for row in encoded_rows(several, skus) if len(row) > 1]
    single = {number: counted[sku] for number, sku in enumerate(skus, 1)}
    pairs: Counter[Row] = Counter(_combinations(rows, 2))
    floor = _larger_floor(single, pairs, floors)
    frequent = _keep_frequent(pairs, single, floor)
    level: list[Row] = [row for row in pairs if pairs[row] >= floor]
    for k in range(3, max_length + 1):
        if not level:
            break
        found = {row: count for row, count in
                 _count_level(rows, k, _candidates(level)).items() if count >= floor}
        frequent.update(found)
        level = list(found)
    return FrequentItemsets(n, decoded(frequent, skus))
