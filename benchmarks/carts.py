"""Cart abandonment, journeys and funnels benchmark, on one SQLite file.

A deterministic shop (``--customers``, each with a few sessions of page views, product
views, cart adds and checkouts, some ending in an order) is written through ecrm's bulk
importers; then, alternating rounds:

- ``cart_abandonment`` (carts made and counted in SQL) against the hand-written
  alternative: the same events read with the raw ``sqlite3`` module, ordered, and cut
  into carts by a plain Python loop (the same definition), counts compared;
- ``funnel`` (one SQL statement) and ``journeys`` (ordered SELECT with LAG/ROW_NUMBER,
  paths counted in Python), timed alone.

    python -m benchmarks.carts --customers 20000 --repeat 3

The medians and each round's ratio are printed; there are no timed assertions.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import ecrm
from ecrm.backends.sql import SQLBackend, make_engine

START = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAYS = 90
WINDOW = timedelta(hours=24)
KINDS = ("page_view", "product_view", "cart_add", "checkout_started")


def build(path: Path, customers: int, seed: int) -> tuple[ecrm.CRM, int, int]:
    """The shop on SQLite at ``path``; (crm, orders, interactions)."""
    backend = SQLBackend(make_engine(f"sqlite:///{path}"))
    backend.create_schema()
    crm = ecrm.CRM(backend, tenant="bench")
    rng = random.Random(seed)
    crm.customers.import_many({"external_id": f"c{n}"} for n in range(customers))
    orders: list[dict[str, Any]] = []
    touches: list[dict[str, Any]] = []
    for n in range(customers):
        for s in range(rng.randint(1, 4)):
            at = START + timedelta(seconds=rng.randrange(DAYS * 86400))
            channel = rng.choice(("web", "app", "email"))
            for depth, kind in enumerate(KINDS):
                if depth and rng.random() < 0.45:
                    break
                at += timedelta(seconds=rng.randint(5, 3600))
                touches.append({"customer_external_id": f"c{n}", "channel": channel,
                                "kind": kind, "occurred_at": at,
                                "sku": f"SKU-{rng.randrange(200)}" if depth else None})
            else:
                if rng.random() < 0.7:
                    at += timedelta(seconds=rng.randint(5, 40 * 3600))
                    orders.append({"order_id": f"o{n}-{s}", "customer_external_id": f"c{n}",
                                   "placed_at": at, "channel": channel,
                                   "lines": [ecrm.OrderLine("SKU-1", 1, 1000)]})
    crm.orders.import_many(orders)
    crm.interactions.import_many(touches, batch_size=5000)
    return crm, len(orders), len(touches)


def by_hand(path: Path, start: datetime, end: datetime, as_of: datetime) -> tuple[int, ...]:
    """(started, converted, abandoned, open) with raw sqlite3 and a Python loop."""
    def text(moment: datetime) -> str:
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

    def parse(value: str) -> datetime:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f")

    with sqlite3.connect(path) as conn:
        args = {"t": "bench", "s": text(start), "e": text(end), "a": text(as_of)}
        rows = conn.execute("""
            SELECT customer_id, occurred_at, 0 FROM ecrm_interactions
             WHERE tenant_id = :t AND kind = 'cart_add' AND occurred_at <= :a
               AND customer_id IN (SELECT customer_id FROM ecrm_interactions
                    WHERE tenant_id = :t AND kind = 'cart_add' AND occurred_at >= :s
                      AND occurred_at < :e AND occurred_at <= :a)
            UNION ALL
            SELECT customer_id, placed_at, 1 FROM ecrm_orders
             WHERE tenant_id = :t AND status != 'cancelled' AND placed_at <= :a
               AND customer_id IN (SELECT customer_id FROM ecrm_interactions
                    WHERE tenant_id = :t AND kind = 'cart_add' AND occurred_at >= :s
                      AND occurred_at < :e AND occurred_at <= :a)
            ORDER BY 1, 2, 3""", args).fetchall()
    counts: Counter[str] = Counter()
    lo, hi, now = parse(args["s"]), parse(args["e"]), parse(args["a"])
    customer, first, last = None, None, None

    def close(status: str) -> None:
        if first is not None and lo <= first < hi:
            counts[status] += 1

    for cid, at_text, is_order in rows:
        at = parse(at_text)
        if cid != customer:
            if last is not None:
                close("abandoned" if last + WINDOW <= now else "open")
            customer, first, last = cid, None, None
        if is_order:
            if last is not None:
                close("converted" if at <= last + WINDOW else "abandoned")
            first = last = None
        elif last is not None and at <= last + WINDOW:
            last = at
        else:
            if last is not None:
                close("abandoned")
            first = last = at
    if last is not None:
        close("abandoned" if last + WINDOW <= now else "open")
    return (sum(counts.values()), counts["converted"], counts["abandoned"], counts["open"])


def timed(work: Any) -> tuple[float, Any]:
    begin = time.perf_counter()
    answer = work()
    return time.perf_counter() - begin, answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "carts.db"
        began = time.perf_counter()
        crm, orders, touches = build(path, options.customers, options.seed)
        print(f"shop: {options.customers} customers, {orders} orders, {touches} "
              f"interactions, built in {time.perf_counter() - began:.1f} s")
        start, end = START + timedelta(days=30), START + timedelta(days=60)
        as_of = START + timedelta(days=DAYS)
        ratios, ours, theirs = [], [], []
        for round_no in range(options.repeat):
            sides = [("ecrm", lambda: crm.analytics.cart_abandonment(
                start=start, end=end, period="week", tz="Asia/Tokyo", as_of=as_of)),
                     ("hand", lambda: by_hand(path, start, end, as_of))]
            if round_no % 2:
                sides.reverse()
            results = dict((name, timed(work)) for name, work in sides)
            report = results["ecrm"][1]
            assert (report.started, report.converted, report.abandoned, report.open) \
                == results["hand"][1], (report.overall, results["hand"][1])
            ours.append(results["ecrm"][0])
            theirs.append(results["hand"][0])
            ratios.append(results["ecrm"][0] / results["hand"][0])
        print(f"cart_abandonment: {report.started} carts, rate "
              f"{report.abandonment_rate:.3f}; ecrm {statistics.median(ours):.3f} s, "
              f"sqlite3 + Python loop {statistics.median(theirs):.3f} s, ratio "
              f"{statistics.median(ratios):.2f} (rounds: "
              f"{', '.join(f'{r:.2f}' for r in ratios)})")
        funnel = [timed(lambda: crm.analytics.funnel(
            ["product_view", "cart_add", "checkout_started", "order"], start=start,
            end=end, within=timedelta(days=2))) for _ in range(options.repeat)]
        print(f"funnel (4 steps): {statistics.median(t for t, _ in funnel):.3f} s, "
              f"{[row.customers for row in funnel[0][1]]}")
        journeys = [timed(lambda: crm.analytics.journeys(start=start, end=end))
                    for _ in range(options.repeat)]
        print(f"journeys: {statistics.median(t for t, _ in journeys):.3f} s, "
              f"{journeys[0][1].buyers} first-time buyers, {len(journeys[0][1])} paths")


if __name__ == "__main__":
    main()
