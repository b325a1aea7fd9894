"""Association-rule mining benchmark: ecrm's ``mine_rules`` against mlxtend's ``fpgrowth``
+ ``association_rules`` on the synthetic shop's baskets, in the same run.

A basket is the distinct SKUs of one order (``orders.csv``, one row per order line). Both
sides mine pairs (``max_length=2`` / ``max_len=2``) with the same minimums; mlxtend gets
its one-hot boolean DataFrame built beforehand, outside the timing (dense when it fits in
half the free memory, sparse otherwise; the output says which). ``--repeat`` rounds
alternate which side goes first; medians and each round's ratio are printed, and both
sides must give the same rules with bitwise-equal metrics.

    python -m benchmarks.mining --scale 1.0 --repeat 3 [--min-support 0.0005 --min-confidence 0.1]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from benchmarks.generator import ORDER_COLUMNS, ShopParams, ensure_dataset
from benchmarks.segments import timed
from ecrm.domain.association import AssociationRule, MiningThresholds, mine_rules

GOAL = 0.25  # the target: ecrm's pair mining in at most a quarter of mlxtend's time
DEFAULTS = MiningThresholds(min_support=0.0005, min_confidence=0.1, max_length=2)
COLUMNS = ["antecedent support", "consequent support", "support", "confidence", "lift",
           "leverage", "conviction"]
Rules = dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[str, ...]]


def read_baskets(orders_csv: Path) -> list[list[str]]:
    """The SKUs of each order, in file order (an order's lines are consecutive)."""
    order_id, sku = ORDER_COLUMNS.index("order_id"), ORDER_COLUMNS.index("sku")
    with open(orders_csv, newline="", encoding="utf-8") as file:
        rows = csv.reader(file)
        next(rows)
        return [[row[sku] for row in lines]
                for _, lines in groupby(rows, key=itemgetter(order_id))]


def one_hot(baskets: list[list[str]], *, sparse: bool | None = None) -> tuple[Any, str]:
    """mlxtend's input: a boolean DataFrame, one column per SKU (sorted), and its kind."""
    import numpy as np
    import pandas as pd
    from scipy import sparse as sp

    skus = sorted({sku for basket in baskets for sku in basket})
    column = {sku: number for number, sku in enumerate(skus)}
    rows = np.repeat(np.arange(len(baskets)), [len(basket) for basket in baskets])
    cols = np.fromiter((column[sku] for basket in baskets for sku in basket), dtype=np.int64,
                       count=len(rows))
    if sparse is None:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        sparse = len(baskets) * len(skus) > free // 2
    if sparse:
        matrix = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)),
                               shape=(len(baskets), len(skus)))
        return pd.DataFrame.sparse.from_spmatrix(matrix, columns=skus), "sparse"
    dense = np.zeros((len(baskets), len(skus)), dtype=bool)
    dense[rows, cols] = True
    return pd.DataFrame(dense, columns=skus, copy=False), "dense"


def mlxtend_side(frame: Any, thresholds: MiningThresholds) -> Callable[[], Any]:
    """fpgrowth + association_rules + the other minimums, as a user of mlxtend would."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    def run() -> Any:
        frequent = fpgrowth(frame, min_support=thresholds.min_support, use_colnames=True,
                            max_len=thresholds.max_length)
        if frequent.empty:
            return frequent
        rules = association_rules(frequent, num_itemsets=len(frame), metric="confidence",
                                  min_threshold=thresholds.min_confidence)
        return rules[(rules["lift"] >= thresholds.min_lift)
                     & (rules["leverage"] >= thresholds.min_leverage)
                     & (rules["conviction"] >= thresholds.min_conviction)]

    return run


def ecrm_side(baskets: list[list[str]], thresholds: MiningThresholds
              ) -> Callable[[], list[AssociationRule]]:
    """``mine_rules`` on the same baskets."""
    return lambda: mine_rules(baskets, thresholds)[1]


def mlxtend_rules(rules: Any) -> Rules:
    """mlxtend's rules: (antecedent, consequent) -> the metrics' exact hex text."""
    if rules.empty:
        return {}
    return {(tuple(sorted(row[0])), tuple(sorted(row[1]))):
            tuple(float(value).hex() for value in row[2:])
            for row in rules[["antecedents", "consequents", *COLUMNS]].itertuples(index=False)}


def ecrm_rules(rules: list[AssociationRule]) -> Rules:
    """ecrm's rules in the same shape."""
    return {(rule.antecedent, rule.consequent): tuple(float(value).hex() for value in (
        rule.antecedent_support, rule.consequent_support, rule.support, rule.confidence,
        rule.lift, rule.leverage, rule.conviction)) for rule in rules}


def compare(sides: dict[str, tuple[Callable[[], Any], Callable[[Any], Rules]]], repeat: int
            ) -> tuple[Rules, dict[str, list[float]]]:
    """``repeat`` alternating rounds; every answer must be the same rules."""
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    expected: Rules | None = None
    order = list(sides.items())
    for round_no in range(repeat):
        for name, (run, shape) in order if round_no % 2 == 0 else order[::-1]:
            elapsed, answer = timed(run)
            seconds[name].append(elapsed)
            found = shape(answer)
            if expected is None:
                expected = found
            elif found != expected:
                raise SystemExit(f"{name} gives {len(found):,} rules in round {round_no}, "
                                 f"the other side {len(expected):,}; "
                                 f"{len(set(found) ^ set(expected)):,} differ or metrics do")
    return expected or {}, seconds


def run_all(params: ShopParams, repeat: int, thresholds: MiningThresholds = DEFAULTS,
            *, sparse: bool | None = None) -> dict[str, Any]:
    """Read the baskets, build mlxtend's frame, time both sides and print the figures."""
    data_dir = ensure_dataset(params)
    baskets = read_baskets(data_dir / "orders.csv")
    frame, kind = one_hot(baskets, sparse=sparse)
    print(f"mining: {data_dir.name}, {len(baskets):,} baskets, {frame.shape[1]:,} SKUs, "
          f"{repeat} round{'s' if repeat > 1 else ''} (medians)\n"
          f"thresholds: min_support={thresholds.min_support:g} "
          f"min_confidence={thresholds.min_confidence:g} min_lift={thresholds.min_lift:g} "
          f"min_leverage={thresholds.min_leverage:g} "
          f"min_conviction={thresholds.min_conviction:g} max_length={thresholds.max_length}\n"
          f"mlxtend input: {kind} one-hot DataFrame, built before timing")
    rules, seconds = compare({
        "mlxtend": (mlxtend_side(frame, thresholds), mlxtend_rules),
        "ecrm": (ecrm_side(baskets, thresholds), ecrm_rules)}, repeat)
    ecrm_s, base_s = statistics.median(seconds["ecrm"]), statistics.median(seconds["mlxtend"])
    by_round = [e / b for e, b in zip(seconds["ecrm"], seconds["mlxtend"], strict=True)]
    print(f"{'side':<34} {'rules':>7} {'seconds':>8}\n"
          f"{'mlxtend fpgrowth+association_rules':<34} {len(rules):>7,} {base_s:>8.3f}\n"
          f"{'ecrm mine_rules':<34} {len(rules):>7,} {ecrm_s:>8.3f}\n"
          f"ecrm/mlxtend {ecrm_s / base_s:.2f} (goal <= {GOAL}); by round "
          f"{', '.join(f'{r:.2f}' for r in by_round)}\n"
          f"same rules, metrics bitwise equal: yes")
    return {"rules": len(rules), "seconds": seconds, "input": kind}


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds")
    parser.add_argument("--min-support", type=float, default=DEFAULTS.min_support)
    parser.add_argument("--min-confidence", type=float, default=DEFAULTS.min_confidence)
    parser.add_argument("--min-lift", type=float, default=DEFAULTS.min_lift)
    parser.add_argument("--sparse", action="store_true", default=None,
                        help="give mlxtend a sparse DataFrame even when a dense one fits")
    args = parser.parse_args(argv)
    thresholds = MiningThresholds(min_support=args.min_support,
                                  min_confidence=args.min_confidence, min_lift=args.min_lift)
    run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat, thresholds,
            sparse=args.sparse)


if __name__ == "__main__":
    main()
