"""Recommendations benchmark on the synthetic shop's SQLite store (200,000 customers,
~1,000,000 orders, 2,000 SKUs at scale 1.0), on a copy of the store the segments benchmark
builds:

- serving: ``crm.recommendations.for_customer`` for random customers (default sources,
  and the mined associations with the best-seller fallback alone), median and 95th
  percentile, beside the same associations-plus-best-sellers answer worked out by hand:
  three statements through raw ``sqlite3`` on the same file and a few lines of Python;
  the same SKUs checked for every customer;
- mining, each side from the same database: ``crm.recommendations.mine`` (read every
  basket, count, store the rules and the item counts; with ``incremental=True`` also every
  itemset's count and the orders counted) beside mlxtend (the same baskets read through
  raw ``sqlite3``, one-hot encoded, ``fpgrowth`` + ``association_rules``), the same rules
  checked bit for bit;
- refresh: ``crm.recommendations.refresh`` after ``--new-orders`` orders were recorded,
  beside mining the same model afresh.

The comparison of the mining itself on baskets already in memory is ``benchmarks.mining``.

    python -m benchmarks.recommendations --scale 1.0 --customers 2000
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

import ecrm
from benchmarks.generator import ShopParams, ensure_dataset
from benchmarks.segments import sqlite_store
from ecrm.backends.sql import make_engine, tables
from ecrm.domain.association import MiningThresholds
from ecrm.domain.association_models import itemset_key

RECOMMENDATION_TABLES = [tables.recommendation_rules, tables.association_models,
                         tables.association_items, tables.association_itemsets,
                         tables.association_rules, tables.association_orders]
THRESHOLDS = {"min_support": 0.0001, "min_confidence": 0.01}
LIMIT = 10

BOUGHT = """
SELECT l.sku FROM ecrm_orders o JOIN ecrm_order_lines l
  ON l.tenant_id = o.tenant_id AND l.order_id = o.order_id
WHERE o.tenant_id = ? AND o.customer_id = ? AND o.status != 'cancelled'
  AND l.order_id IN (SELECT order_id FROM ecrm_orders WHERE tenant_id = ? AND customer_id = ?)
ORDER BY o.placed_at DESC, o.order_id DESC, l.line_no
"""
RULES = """
SELECT antecedent, consequent, both_count, antecedent_count, consequent_count
FROM ecrm_association_rules WHERE tenant_id = ? AND model = 'default' AND antecedent IN ({})
"""
POPULAR = """
SELECT sku FROM ecrm_association_items WHERE tenant_id = ? AND model = 'default'
ORDER BY baskets DESC, sku LIMIT ?
"""


def store_copy(data_dir: Path) -> Path:
    """A private copy of the segments benchmark's store (this benchmark writes to it)."""
    source = sqlite_store(data_dir)
    target = data_dir / "recommendations-ecrm.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    engine = make_engine(f"sqlite:///{target}")
    # A store built by an older ecrm may hold older recommendation tables: start afresh.
    for table in reversed(RECOMMENDATION_TABLES):
        table.drop(engine, checkfirst=True)
    for table in RECOMMENDATION_TABLES:
        table.create(engine)
    engine.dispose()
    return target


def by_hand(db: Path, tenant: str, model_baskets: int) -> Callable[[str], list[str]]:
    """The associations-then-best-sellers answer for a customer, by hand on ``sqlite3``:
    the customer's SKUs, the rules whose antecedent is one of the newest 20, best
    sellers; bought SKUs left out; rules ordered as ecrm orders them."""
    conn = sqlite3.connect(db)

    def run(customer_id: str) -> list[str]:
        bought = list(dict.fromkeys(sku for (sku,) in conn.execute(
            BOUGHT, (tenant, customer_id, tenant, customer_id))))
        keys = [itemset_key((sku,)) for sku in bought[:20]]
        rules = conn.execute(RULES.format(",".join("?" * len(keys))),
                             (tenant, *keys)).fetchall() if keys else []
        ranked = sorted(rules, key=lambda r: _rule_order(r, model_baskets))
        chosen = [sku for r in ranked for sku in _items(r[1])]
        wanted = 2 * LIMIT + len(bought)
        chosen += [sku for (sku,) in conn.execute(POPULAR, (tenant, wanted))]
        taken = set(bought)
        return [sku for sku in dict.fromkeys(chosen) if sku not in taken][:LIMIT]

    return run


def _items(key: str) -> list[str]:
    return list(json.loads(key))


def _rule_order(row: tuple[Any, ...], n: int) -> tuple[Any, ...]:
    """ecrm's order of rules: confidence, lift and count descending, then the items;
    computed with the same float operations."""
    antecedent, consequent, both, a_count, c_count = row
    s_both, s_a, s_c = both / float(n), a_count / float(n), c_count / float(n)
    confidence = (s_both * n) / (s_a * n)
    return (-confidence, -(confidence / s_c), -both, _items(antecedent), _items(consequent))


def latencies(call: Callable[[str], list[str]], ids: list[str]) -> tuple[list[float], list[Any]]:
    """Seconds of each call, and each answer."""
    seconds, answers = [], []
    for customer_id in ids:
        started = time.perf_counter()
        answers.append(call(customer_id))
        seconds.append(time.perf_counter() - started)
    return seconds, answers


def summary(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (f"  {label:<44} median {statistics.median(ordered) * 1000:6.2f} ms   "
            f"p95 {p95 * 1000:6.2f} ms")


def serve(crm: Any, db: Path, count: int, seed: int) -> None:
    """Time suggestions for ``count`` random customers, ecrm and by hand, alternating."""
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM ecrm_customers WHERE tenant_id = ?", (crm.tenant,))]
    chosen = random.Random(seed).sample(ids, min(count, len(ids)))
    model = crm.recommendations.model()
    hand = by_hand(db, crm.tenant, model.baskets)

    def ecrm_pair(cid: str) -> list[str]:
        return crm.recommendations.for_customer(
            cid, limit=LIMIT, sources=["associations", "popular"]).skus()

    def ecrm_default(cid: str) -> list[str]:
        return crm.recommendations.for_customer(cid, limit=LIMIT).skus()

    for warm in chosen[:50]:  # caches and compiled statements
        ecrm_pair(warm), ecrm_default(warm), hand(warm)
    half = len(chosen) // 2
    first = latencies(ecrm_pair, chosen[:half]), latencies(hand, chosen[:half])
    second = latencies(hand, chosen[half:]), latencies(ecrm_pair, chosen[half:])
    ecrm_seconds = first[0][0] + second[1][0]
    hand_seconds = first[1][0] + second[0][0]
    if first[0][1] + second[1][1] != first[1][1] + second[0][1]:
        raise SystemExit("serving: ecrm and the hand-written answer differ")
    default_seconds, answers = latencies(ecrm_default, chosen)
    print(f"serving {len(chosen):,} random customers of {len(ids):,}, limit {LIMIT}:")
    print(summary("ecrm, associations + popular", ecrm_seconds))
    print(summary("by hand (raw sqlite3), same SKUs", hand_seconds))
    print(f"  ratio of medians: "
          f"{statistics.median(ecrm_seconds) / statistics.median(hand_seconds):.2f}x")
    print(summary("ecrm, default sources", default_seconds))
    empty = sum(1 for answer in answers if not answer)
    print(f"  customers with no suggestion: {empty}")


def refresh(crm: Any, new_orders: int, seed: int) -> None:
    """Record ``new_orders`` orders of random customers, then time a refresh beside a
    fresh mine of the same model."""
    rules = crm.recommendations.association_rules()
    skus = sorted({sku for rule in rules[:200] for sku in rule.antecedent + rule.consequent})
    rng = random.Random(seed)
    with sqlite3.connect(crm.backend.engine.url.database) as conn:
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM ecrm_customers WHERE tenant_id = ? LIMIT 5000", (crm.tenant,))]
    now = crm.clock.now()
    for n in range(new_orders):
        lines = [ecrm.OrderLine(sku, 1, Decimal(1000)) for sku in rng.sample(skus, 2)]
        crm.orders.record(order_id=f"bench-{n}", customer_id=rng.choice(ids),
                          placed_at=now - timedelta(minutes=n), lines=lines, channel="web")
    started = time.perf_counter()
    refreshed = crm.recommendations.refresh()
    refresh_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fresh = crm.recommendations.mine("fresh", **THRESHOLDS)
    mine_seconds = time.perf_counter() - started
    same = crm.recommendations.association_rules() == crm.recommendations.association_rules(
        "fresh")
    print(f"refresh after {new_orders:,} new orders: {refresh_seconds:.2f} s, a fresh mine "
          f"{mine_seconds:.2f} s ({refresh_seconds / mine_seconds:.3f}x); "
          f"{refreshed.baskets:,} baskets, {refreshed.rule_count:,} rules; "
          f"same rules as the fresh mine: {same and fresh.baskets == refreshed.baskets}")


BASKET_LINES = """
SELECT l.order_id, l.sku FROM ecrm_order_lines l JOIN ecrm_orders o
  ON l.tenant_id = o.tenant_id AND l.order_id = o.order_id
WHERE o.tenant_id = ? AND o.status != 'cancelled' ORDER BY l.order_id, l.line_no
"""


def mlxtend_from_db(db: Path, tenant: str) -> tuple[float, float, Any]:
    """mlxtend's whole way from the database: read the baskets, encode, mine. Seconds
    of all of it, of the mining alone, and the rules."""
    from benchmarks.mining import mlxtend_side, one_hot

    started = time.perf_counter()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(BASKET_LINES, (tenant,))
        baskets = [[sku for _, sku in lines] for _, lines in groupby(rows, itemgetter(0))]
    frame, _ = one_hot(baskets, sparse=False)
    mined = time.perf_counter()
    rules = mlxtend_side(frame, MiningThresholds(**THRESHOLDS))()
    done = time.perf_counter()
    return done - started, done - mined, rules


def mining(crm: Any, db: Path) -> None:
    """Time ecrm's mine (both kinds) beside mlxtend's way from the same database."""
    from benchmarks.mining import ecrm_rules, mlxtend_rules

    seconds = {}
    for incremental in (False, True):
        started = time.perf_counter()
        model = crm.recommendations.mine(incremental=incremental, **THRESHOLDS)
        seconds[incremental] = time.perf_counter() - started
    whole, alone, rules = mlxtend_from_db(db, crm.tenant)
    same = mlxtend_rules(rules) == ecrm_rules(crm.recommendations.association_rules())
    print(f"mining {model.baskets:,} baskets, {THRESHOLDS}: {model.rule_count:,} rules; "
          f"same rules as mlxtend, bit for bit: {same}")
    print(f"  mlxtend from the database (read, one-hot, fpgrowth + rules) {whole:7.2f} s"
          f"  (fpgrowth + rules alone {alone:.2f} s)")
    for incremental, label in ((False, "ecrm mine(incremental=False)"),
                               (True, "ecrm mine(incremental=True)")):
        print(f"  {label:<56}{seconds[incremental]:7.2f} s  "
              f"{seconds[incremental] / whole:.2f}x")


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--customers", type=int, default=2000,
                        help="random customers to serve")
    parser.add_argument("--new-orders", type=int, default=1000)
    args = parser.parse_args(argv)
    run_all(ShopParams(scale=args.scale, seed=args.seed), args.customers, args.new_orders)


def run_all(params: ShopParams, customers: int = 2000, new_orders: int = 1000) -> None:
    """Mining, serving and refreshing on a copy of the shop's SQLite store."""
    db = store_copy(ensure_dataset(params))
    crm = ecrm.CRM.open(f"sqlite:///{db}")
    mining(crm, db)
    serve(crm, db, customers, params.seed)
    refresh(crm, new_orders, params.seed)


if __name__ == "__main__":
    main()
