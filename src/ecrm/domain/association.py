"""Association rules mined from order baskets ("customers who bought A also bought C").

A basket is the set of distinct SKUs of one order. Counting lives in
:mod:`ecrm.domain.itemsets`; this module holds the thresholds, the rules and their
metrics. Every figure is computed from integer counts with the very float operations
mlxtend 0.25 uses (``fpgrowth`` + ``association_rules``), so both give the same rules and
bitwise-equal metrics:

- support ``s(X) = count(X) / float(baskets)``;
- confidence ``(s(A+C) * baskets) / (s(A) * baskets)``;
- lift ``confidence / s(C)``; leverage ``s(A+C) - s(A) * s(C)``;
- conviction ``(1.0 - s(C)) / (1.0 - confidence)``, infinite when confidence is 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import combinations

import attrs

from ecrm.domain.itemsets import (
    FrequentItemsets,
    Itemset,
    ItemsetCounter,
    check_fraction,
    check_max_length,
    check_support,
    count_itemsets,
    mine_frequent,
)
from ecrm.errors import ValidationError

__all__ = ["AssociationRule", "FrequentItemsets", "ItemsetCounter", "MiningThresholds",
           "association_rules", "count_itemsets", "frequent_itemsets", "mine_rules"]


def _min_confidence(value: object) -> float:
    """A minimum confidence: a number in ``[0, 1]``."""
    return check_fraction("min_confidence", value, 0.0, 1.0)


def _min_lift(value: object) -> float:
    """A minimum lift: a finite number >= 0."""
    number = check_fraction("min_lift", value, 0.0, math.inf)
    if math.isinf(number):
        raise ValidationError("min_lift", "must be finite")
    return number


def _min_leverage(value: object) -> float:
    """A minimum leverage: a number in ``[-1, 1]``."""
    return check_fraction("min_leverage", value, -1.0, 1.0)


def _min_conviction(value: object) -> float:
    """A minimum conviction: a number >= 0; infinity keeps only rules of confidence 1."""
    return check_fraction("min_conviction", value, 0.0, math.inf)


@attrs.frozen
class MiningThresholds:
    """Minimums a mined rule must reach.

    ``min_support`` in ``(0, 1]`` picks the frequent itemsets; a rule is kept when its
    confidence (``0..1``), lift (``>= 0``), leverage (``-1..1``) and conviction (``>= 0``)
    reach theirs. ``max_length`` (2..4) bounds an itemset, so a rule has at most
    ``max_length - 1`` antecedent SKUs.
    """

    min_support: float = attrs.field(default=0.001, converter=check_support)
    min_confidence: float = attrs.field(default=0.1, converter=_min_confidence)
    min_lift: float = attrs.field(default=0.0, converter=_min_lift)
    min_leverage: float = attrs.field(default=-1.0, converter=_min_leverage)
    min_conviction: float = attrs.field(default=0.0, converter=_min_conviction)
    max_length: int = attrs.field(default=2, converter=check_max_length)


def support(count: int, baskets: int) -> float:
    """mlxtend's support of an itemset held by ``count`` of ``baskets`` baskets."""
    return count / float(baskets)


@attrs.frozen
class AssociationRule:
    """antecedent -> consequent, from integer counts; metrics computed exactly as mlxtend."""

    antecedent: Itemset
    consequent: Itemset
    antecedent_count: int
    consequent_count: int
    count: int
    baskets: int

    @property
    def antecedent_support(self) -> float:
        """Share of baskets holding the antecedent."""
        return support(self.antecedent_count, self.baskets)

    @property
    def consequent_support(self) -> float:
        """Share of baskets holding the consequent."""
        return support(self.consequent_count, self.baskets)

    @property
    def support(self) -> float:
        """Share of baskets holding both."""
        return support(self.count, self.baskets)

    @property
    def confidence(self) -> float:
        """Share of the antecedent's baskets that also hold the consequent."""
        return (self.support * self.baskets) / (self.antecedent_support * self.baskets)

    @property
    def lift(self) -> float:
        """Confidence over the consequent's support: above 1, bought together more than
        by chance."""
        return self.confidence / self.consequent_support

    @property
    def leverage(self) -> float:
        """Support minus what independence would give."""
        return self.support - self.antecedent_support * self.consequent_support

    @property
    def conviction(self) -> float:
        """How much more often the antecedent comes without the consequent by chance than
        it does; infinite when the confidence is 1."""
        confidence = self.confidence
        if confidence >= 1.0:
            return math.inf
        return (1.0 - self.consequent_support) / (1.0 - confidence)

    def reaches(self, thresholds: MiningThresholds) -> bool:
        """Whether every metric reaches its minimum in ``thresholds``."""
        return (self.confidence >= thresholds.min_confidence
                and self.lift >= thresholds.min_lift
                and self.leverage >= thresholds.min_leverage
                and self.conviction >= thresholds.min_conviction)

    def sort_key(self) -> tuple[float, float, int, Itemset, Itemset]:
        """Confidence, lift and count descending, then antecedent and consequent."""
        return -self.confidence, -self.lift, -self.count, self.antecedent, self.consequent


def frequent_itemsets(baskets: Iterable[Iterable[str]], thresholds: MiningThresholds
                      ) -> FrequentItemsets:
    """The itemsets of up to ``thresholds.max_length`` SKUs reaching
    ``thresholds.min_support`` among ``baskets``."""
    return mine_frequent(baskets, thresholds.min_support, thresholds.max_length)


def _splits(itemsets: FrequentItemsets) -> Iterator[AssociationRule]:
    """Every rule of every frequent itemset of two or more SKUs: each non-empty proper
    subset as the antecedent, the rest as the consequent."""
    counts, baskets = itemsets.counts, itemsets.baskets
    for itemset, count in counts.items():
        for size in range(1, len(itemset)):
            for antecedent in combinations(itemset, size):
                consequent = tuple(sku for sku in itemset if sku not in antecedent)
                try:
                    yield AssociationRule(antecedent, consequent, counts[antecedent],
                                          counts[consequent], count, baskets)
                except KeyError as missing:
                    raise ValidationError("itemsets", f"{missing} is missing although "
                                                      f"{itemset!r} is frequent") from None


def association_rules(itemsets: FrequentItemsets, thresholds: MiningThresholds
                      ) -> list[AssociationRule]:
    """The rules of ``itemsets`` reaching every minimum of ``thresholds``, by confidence,
    lift and count (all descending), then antecedent and consequent."""
    rules = [rule for rule in _splits(itemsets) if rule.reaches(thresholds)]
    rules.sort(key=AssociationRule.sort_key)
    return rules


def mine_rules(baskets: Iterable[Iterable[str]], thresholds: MiningThresholds
               ) -> tuple[FrequentItemsets, list[AssociationRule]]:
    """The frequent itemsets of ``baskets`` and the rules they give."""
    itemsets = frequent_itemsets(baskets, thresholds)
    return itemsets, association_rules(itemsets, thresholds)
