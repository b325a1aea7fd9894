"""Association rules from order baskets: the same rules and bitwise-equal metrics as
mlxtend (``fpgrowth`` + ``association_rules``, the oracle), the incremental itemset
counter, a hand-worked example, and the thresholds' checks. No database is needed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlxtend.frequent_patterns import association_rules as mlxtend_rules
from mlxtend.frequent_patterns import fpgrowth
from mlxtend.preprocessing import TransactionEncoder

from ecrm.domain.association import (
    AssociationRule,
    FrequentItemsets,
    ItemsetCounter,
    MiningThresholds,
    association_rules,
    count_itemsets,
    frequent_itemsets,
    mine_rules,
)
from ecrm.errors import ValidationError

pytestmark = pytest.mark.filterwarnings(  # mlxtend's certainty metric divides by zero
    "ignore:invalid value encountered in divide:RuntimeWarning")
SKUS = [f"SKU-{n:02d}" for n in range(12)]
METRICS = ("antecedent_support", "consequent_support", "support", "confidence", "lift",
           "leverage", "conviction")
Figures = dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]]


# -- the oracle -------------------------------------------------------------------------------

def bits(*values: Any) -> tuple[str, ...]:
    """Floats as their exact hexadecimal text: equal text is equal bits."""
    return tuple(float(value).hex() for value in values)


def oracle(baskets: Sequence[Sequence[str]], thresholds: MiningThresholds
           ) -> tuple[dict[tuple[str, ...], str], Figures]:
    """mlxtend's frequent itemsets (itemset -> support) and rules, the other minimums
    filtered after ``association_rules`` as a user of mlxtend would."""
    encoder = TransactionEncoder()
    frame = pd.DataFrame(encoder.fit(baskets).transform(baskets), columns=encoder.columns_)
    if frame.shape[1] == 0:
        return {}, {}
    frequent = fpgrowth(frame, min_support=thresholds.min_support, use_colnames=True,
                        max_len=thresholds.max_length)
    supports = {tuple(sorted(itemset)): float(value).hex()
                for itemset, value in zip(frequent["itemsets"], frequent["support"],
                                          strict=True)}
    if frequent.empty:  # mlxtend's association_rules refuses an empty frame
        return supports, {}
    rules = mlxtend_rules(frequent, num_itemsets=len(frame), metric="confidence",
                          min_threshold=thresholds.min_confidence)
    rules = rules[(rules["lift"] >= thresholds.min_lift)
                  & (rules["leverage"] >= thresholds.min_leverage)
                  & (rules["conviction"] >= thresholds.min_conviction)]
    columns = ["antecedent support", "consequent support", "support", "confidence", "lift",
               "leverage", "conviction"]
    return supports, {
        (tuple(sorted(row.antecedents)), tuple(sorted(row.consequents))):
            bits(*row[2:])
        for row in rules[["antecedents", "consequents", *columns]].itertuples(index=False)}


def assert_agrees(baskets: Sequence[Sequence[str]], thresholds: MiningThresholds
                  ) -> FrequentItemsets:
    """``mine_rules`` gives mlxtend's itemsets, supports and rules, bit for bit."""
    supports, expected = oracle(baskets, thresholds)
    itemsets, rules = mine_rules(baskets, thresholds)
    assert supports_of(itemsets) == supports
    assert figures(rules) == expected
    return itemsets


def figures(rules: list[AssociationRule]) -> Figures:
    """Our rules in the oracle's shape."""
    return {(rule.antecedent, rule.consequent): bits(*(getattr(rule, m) for m in METRICS))
            for rule in rules}


def supports_of(itemsets: FrequentItemsets) -> dict[tuple[str, ...], str]:
    """Our frequent itemsets in the oracle's shape."""
    return {itemset: itemsets.support(itemset).hex() for itemset in itemsets.counts}


# -- strategies -------------------------------------------------------------------------------

@st.composite
def shops(draw: st.DrawFn, most: int = 60) -> tuple[list[list[str]], MiningThresholds]:
    """1..``most`` baskets over 2..12 SKUs (repeats within a basket included) and
    thresholds, the minimum support often an exact fraction k/n to land on the boundary."""
    pool = SKUS[:draw(st.integers(2, 12))]
    if draw(st.integers(0, 4)) == 0:  # nested baskets: mlxtend's FP-tree is one path
        order = draw(st.permutations(pool))
        sizes = draw(st.lists(st.integers(0, len(pool)), min_size=1, max_size=most))
        baskets = [list(order[:size]) for size in sizes]
    else:
        baskets = draw(st.lists(st.lists(st.sampled_from(pool), max_size=len(pool) + 2),
                                min_size=1, max_size=most))
    n = len(baskets)
    min_support = draw(st.one_of(st.integers(1, n).map(lambda k: k / n),
                                 st.floats(0.01, 1.0), st.sampled_from([0.1, 0.2, 0.3])))
    return baskets, MiningThresholds(
        min_support=min_support,
        min_confidence=draw(st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 0.5, 1.0]))),
        min_lift=draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0))),
        min_leverage=draw(st.one_of(st.just(-1.0), st.floats(-0.2, 0.2))),
        min_conviction=draw(st.one_of(st.just(0.0), st.floats(0.0, 3.0), st.just(math.inf))),
        max_length=draw(st.integers(2, 4)))


baskets_ = st.lists(st.lists(st.sampled_from(SKUS[:6]), max_size=5), max_size=30)


# -- agreement with mlxtend -------------------------------------------------------------------

@settings(max_examples=300)
@given(shops())
def test_mined_rules_equal_mlxtends_bit_for_bit(shop: tuple[list[list[str]],
                                                            MiningThresholds]) -> None:
    baskets, thresholds = shop
    assert_agrees(baskets, thresholds)


@settings(max_examples=30)
@given(shops(most=400))
def test_larger_shops_agree_too(shop: tuple[list[list[str]], MiningThresholds]) -> None:
    """Hundreds of baskets: there ``(s(A+C) * n) / (s(A) * n)`` often differs from
    ``count / count(A)`` in the last bit, and ecrm must follow mlxtend's."""
    baskets, thresholds = shop
    assert_agrees(baskets, thresholds)


@settings(max_examples=150)
@given(shops())
def test_counter_then_pruning_equals_mlxtend_too(shop: tuple[list[list[str]],
                                                             MiningThresholds]) -> None:
    baskets, thresholds = shop
    supports, expected = oracle(baskets, thresholds)
    counter = ItemsetCounter(thresholds.max_length)
    for basket in baskets:
        counter.add(basket)
    itemsets = FrequentItemsets.from_counts(counter.counts(), counter.baskets,
                                            thresholds.min_support)
    assert supports_of(itemsets) == supports
    assert figures(association_rules(itemsets, thresholds)) == expected


#: (count, baskets) where ``count / baskets * baskets`` rounds above ``count``.
ROUNDING_UP = [(c, n) for n in range(2, 41) for c in range(1, n)
               if math.ceil(c / float(n) * n) > c]


@pytest.mark.parametrize(("count", "n"), ROUNDING_UP)
def test_at_the_rounding_boundary_pairs_are_kept_only_in_a_chain(count: int, n: int) -> None:
    """At min_support=count/n, fpgrowth keeps a single SKU of ``count`` baskets but asks a
    pair for ``ceil(min_support * n) == count + 1`` baskets, except when the FP-tree is one
    path (nested baskets), where the float test alone decides."""
    assert ROUNDING_UP[:2] == [(7, 25), (14, 25)]
    nested = [["a", "b"]] * count + [["a"]] * (n - count)
    crossed = [["a", "b"]] * count + [["a"]] * (n - count - 1) + [["b", "c"]]
    thresholds = MiningThresholds(min_support=count / n, min_confidence=0.0, max_length=3)
    for baskets, pair_kept in ((nested, True), (crossed, False)):
        itemsets = assert_agrees(baskets, thresholds)
        assert (("a", "b") in itemsets.counts) is pair_kept
        counter = count_itemsets(baskets, max_length=3)
        pruned = FrequentItemsets.from_counts(counter.counts(), n, count / n)
        assert dict(pruned.counts) == dict(itemsets.counts)


# -- the counter ------------------------------------------------------------------------------

@given(baskets_, st.integers(2, 4))
def test_adding_then_removing_every_basket_leaves_nothing(baskets: list[list[str]],
                                                          max_length: int) -> None:
    counter = ItemsetCounter(max_length)
    for basket in baskets:
        counter.add(basket)
    assert dict(counter.counts()) == dict(count_itemsets(baskets, max_length).counts())
    for basket in reversed(baskets):
        counter.remove(basket)
    assert dict(counter.counts()) == {} and counter.baskets == 0


@given(baskets_, st.integers(0, 30), st.integers(2, 4))
def test_counts_in_two_parts_merged_equal_one_count(baskets: list[list[str]], cut: int,
                                                    max_length: int) -> None:
    whole = count_itemsets(baskets, max_length)
    stored = count_itemsets(baskets[:cut], max_length)
    fresh = ItemsetCounter(max_length)
    for basket in baskets[cut:]:
        fresh.add(basket)
    fresh.merge(stored.counts(), stored.baskets)
    assert dict(fresh.counts()) == dict(whole.counts())
    assert fresh.baskets == whole.baskets == len(baskets)


def test_counts_hold_every_itemset_and_a_repeat_counts_once() -> None:
    counter = count_itemsets([["b", "a", "a"], ["c"]], max_length=3)
    assert dict(counter.counts()) == {("a",): 1, ("b",): 1, ("a", "b"): 1, ("c",): 1}
    assert counter.baskets == 2


def test_removing_a_basket_never_added_raises_and_changes_nothing() -> None:
    counter = ItemsetCounter()
    counter.add(["a"])
    counter.add(["b"])
    before = dict(counter.counts())
    with pytest.raises(ValueError, match="never added"):
        counter.remove(["a", "b"])  # both SKUs were seen, never together
    with pytest.raises(ValueError):
        counter.remove(["z"])
    assert dict(counter.counts()) == before and counter.baskets == 2
    with pytest.raises(ValueError):
        ItemsetCounter().remove([])


def test_a_string_is_not_a_basket_and_stored_counts_are_checked() -> None:
    with pytest.raises(ValidationError) as raised:
        ItemsetCounter().add("SKU-1")
    assert raised.value.field == "basket"
    for counts in ({("b", "a"): 1}, {("a",): 0}, {("a", "b", "c"): 1}, {"a": 1}):
        with pytest.raises(ValidationError) as raised:
            ItemsetCounter().merge(counts, 1)
        assert raised.value.field == "counts"
    with pytest.raises(ValidationError) as raised:
        ItemsetCounter().merge({}, -1)
    assert raised.value.field == "baskets"
    for length in (1, 5, True):
        with pytest.raises(ValidationError) as raised:
            count_itemsets([], max_length=length)
        assert raised.value.field == "max_length"


# -- a worked example -------------------------------------------------------------------------

FIVE = [["bread", "milk"], ["bread", "butter", "milk"], ["bread", "butter"], ["milk"],
        ["bread", "butter", "jam"]]


def test_five_baskets_worked_by_hand() -> None:
    """bread 4, milk 3, butter 3, jam 1 of 5; bread+butter 3, bread+milk 2, butter+milk 1,
    bread+jam 1, butter+jam 1."""
    thresholds = MiningThresholds(min_support=0.4, min_confidence=0.6)
    itemsets, rules = mine_rules(FIVE, thresholds)
    assert dict(itemsets.counts) == {("bread",): 4, ("milk",): 3, ("butter",): 3,
                                     ("bread", "butter"): 3, ("bread", "milk"): 2}
    assert [(r.antecedent, r.consequent) for r in rules] == [
        (("butter",), ("bread",)),   # 3/3: confidence 1, lift 1/0.8 = 1.25, conviction inf
        (("bread",), ("butter",)),   # 3/4 = 0.75, lift 0.75/0.6 = 1.25
        (("milk",), ("bread",)),     # 2/3, lift (2/3)/0.8 = 0.8333...
    ]
    butter_bread, bread_butter, milk_bread = rules
    assert (butter_bread.support, butter_bread.confidence, butter_bread.lift) == (0.6, 1.0, 1.25)
    assert butter_bread.leverage == 0.6 - 0.6 * 0.8  # 0.12, less a rounding
    assert butter_bread.conviction == math.inf
    assert (bread_butter.confidence, bread_butter.lift) == (0.75, 1.25)
    assert bread_butter.conviction == (1.0 - 0.6) / (1.0 - 0.75)  # 1.6
    assert milk_bread.confidence == (0.4 * 5) / (0.6 * 5)
    assert milk_bread.conviction == pytest.approx(0.6)
    assert figures(rules) == oracle(FIVE, thresholds)[1]


def test_confidence_goes_through_supports_times_baskets_as_mlxtends() -> None:
    """x in 7 of 25 baskets, x and y in 3: (3/25*25) / (7/25*25) is one ulp off 3/7."""
    baskets = [["x", "y"]] * 3 + [["x"]] * 4 + [["z"]] * 18
    thresholds = MiningThresholds(min_support=0.1, min_confidence=0.0)
    rules = {rule.antecedent: rule for rule in mine_rules(baskets, thresholds)[1]}
    assert rules[("x",)].confidence == (3 / 25 * 25) / (7 / 25 * 25) != 3 / 7
    assert figures(list(rules.values())) == oracle(baskets, thresholds)[1]


def test_baskets_may_be_any_iterables_and_a_string_is_refused() -> None:
    as_lists = mine_rules(FIVE, MiningThresholds(min_support=0.2))
    as_iterators = mine_rules((iter(basket) for basket in FIVE), MiningThresholds(min_support=0.2))
    assert as_iterators == as_lists
    assert dict(count_itemsets(map(iter, FIVE)).counts()) == dict(count_itemsets(FIVE).counts())
    for call in (lambda: mine_rules([["a"], "ab"], MiningThresholds()),
                 lambda: count_itemsets(["ab"])):
        with pytest.raises(ValidationError) as raised:
            call()
        assert raised.value.field == "basket"


def test_no_baskets_give_no_itemsets_and_no_rules() -> None:
    itemsets, rules = mine_rules([], MiningThresholds())
    assert (itemsets.baskets, dict(itemsets.counts), rules) == (0, {}, [])
    assert dict(FrequentItemsets.from_counts({}, 0, 0.5).counts) == {}
    assert dict(frequent_itemsets([[], []], MiningThresholds()).counts) == {}


def test_min_lift_and_conviction_drop_rules() -> None:
    everything = mine_rules(FIVE, MiningThresholds(min_support=0.2, min_confidence=0.0))[1]
    lifting = mine_rules(FIVE, MiningThresholds(min_support=0.2, min_confidence=0.0,
                                                min_lift=1.01, min_conviction=math.inf))[1]
    assert lifting == [rule for rule in everything if rule.lift >= 1.01
                       and rule.conviction == math.inf]
    assert lifting and len(lifting) < len(everything)


# -- thresholds -------------------------------------------------------------------------------

BAD = {
    "min_support": [0, 0.0, -0.1, 1.01, math.nan, math.inf, True, "0.1", None],
    "min_confidence": [-0.01, 1.01, math.nan, math.inf, False, "x"],
    "min_lift": [-1, math.nan, math.inf, True, "1"],
    "min_leverage": [-1.01, 1.01, math.nan, -math.inf, True, "0"],
    "min_conviction": [-0.5, math.nan, -math.inf, True, "2"],
    "max_length": [1, 5, 2.0, True, math.nan, "2"],
}


@pytest.mark.parametrize(("field", "value"),
                         [(field, value) for field, values in BAD.items() for value in values])
def test_a_threshold_out_of_range_names_its_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as raised:
        MiningThresholds(**{field: value})
    assert raised.value.field == field


def test_thresholds_at_their_bounds_are_accepted() -> None:
    low = MiningThresholds(min_support=1e-9, min_confidence=0, min_lift=0, min_leverage=-1,
                           min_conviction=0, max_length=2)
    high = MiningThresholds(min_support=1, min_confidence=1, min_lift=1e9, min_leverage=1,
                            min_conviction=math.inf, max_length=4)
    assert (low.min_confidence, high.min_support, high.max_length) == (0.0, 1.0, 4)
    assert isinstance(high.min_support, float)
