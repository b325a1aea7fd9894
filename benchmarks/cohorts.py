"""Cohorts benchmark: ``crm.analytics.cohorts`` (monthly) against the same question
written by hand in SQL, on the synthetic shop's SQLite file, in the same run.

The hand-written statement takes each stored UTC time's month from its text
(``substr(placed_at, 1, 7)``, or after ``datetime(placed_at, '+9 hours')`` for Tokyo,
which keeps no daylight saving), the shortcut someone writing SQL for one database and
one zone would take. ecrm numbers periods with bound UTC boundaries instead, which is
exact in any zone and on every database. Both sides must give the same cells (cohort,
period, active customers, orders, revenue); ``--repeat`` rounds alternate which side goes
first and the medians are printed with each round's ratio.

    python -m benchmarks.cohorts --scale 1.0 --repeat 5

The SQLite database is the one ``benchmarks.segments`` builds (and keeps) per data set.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from benchmarks.baseline import utc_text
from benchmarks.generator import ShopParams, ensure_dataset
from benchmarks.segments import as_of_time, sqlite_store

#: (cohort, period index) -> (active customers, orders, revenue in minor units)
Cells = dict[tuple[date, int], tuple[int, int, int]]

HAND_SQL = """
WITH firsts AS (
  SELECT customer_id, substr(min({first}), 1, 7) AS cohort
  FROM ecrm_orders
  WHERE tenant_id = :tenant AND currency = :currency AND status != 'cancelled'
    AND placed_at <= :as_of
  GROUP BY customer_id)
SELECT f.cohort, substr({local}, 1, 7) AS month, count(DISTINCT o.customer_id), count(*),
       sum(o.total_minor - o.refunded_minor)
FROM ecrm_orders AS o JOIN firsts AS f ON f.customer_id = o.customer_id
WHERE o.tenant_id = :tenant AND o.currency = :currency AND o.status != 'cancelled'
  AND o.placed_at <= :as_of
GROUP BY f.cohort, month
"""
ZONES = {"UTC": "placed_at", "Asia/Tokyo": "datetime(placed_at, '+9 hours')"}


def ecrm_side(crm: Any, tz: str, as_of: datetime) -> Callable[[], Cells]:
    """ecrm's monthly cohorts in ``tz``, as cells (rows where someone ordered)."""
    def run() -> Cells:
        table = crm.analytics.cohorts(period="month", tz=tz, as_of=as_of)
        return {(r.cohort, r.period_index): (r.active, r.orders, int(r.revenue))
                for r in table if r.active}
    return run


def hand_sql_side(db: Path, tenant: str, tz: str, as_of: datetime, currency: str
                  ) -> Callable[[], Cells]:
    """:data:`HAND_SQL` on a raw ``sqlite3`` connection to the same file."""
    conn = sqlite3.connect(db)
    sql = HAND_SQL.format(first=ZONES[tz],
                          local=ZONES[tz].replace("placed_at", "o.placed_at"))
    params = {"tenant": tenant, "currency": currency, "as_of": utc_text(as_of)}

    def run() -> Cells:
        cells = {}
        for cohort, month, active, orders, revenue in conn.execute(sql, params):
            first, here = _month(cohort), _month(month)
            k = (here.year - first.year) * 12 + here.month - first.month
            cells[(first, k)] = (active, orders, revenue)
        return cells
    return run


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


def timed(run: Callable[[], Cells]) -> tuple[float, Cells]:
    """Wall seconds of one call, and its result."""
    gc.collect()
    started = time.perf_counter()
    cells = run()
    return time.perf_counter() - started, cells


def compare(label: str, sides: dict[str, Callable[[], Cells]], repeat: int) -> list[str]:
    """A warm-up call of each side (they must agree), then ``repeat`` alternating rounds."""
    answer = sides["ecrm"]()
    for name, run in sides.items():
        if run() != answer:
            raise SystemExit(f"{label}: {name} disagrees with ecrm")
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides.items())
    for round_no in range(repeat):
        for name, run in order if round_no % 2 == 0 else order[::-1]:
            elapsed, cells = timed(run)
            if cells != answer:
                raise SystemExit(f"{label}: {name} changed its answer in round {round_no}")
            seconds[name].append(elapsed)
    ecrm_s, base_s = (statistics.median(seconds[name]) for name in sides)
    by_round = [e / b for e, b in zip(*seconds.values(), strict=True)]
    return [f"{label:<12} {len(answer):>6,} {ecrm_s:>7.3f} {base_s:>7.3f} "
            f"{ecrm_s / base_s:>9.2f}   by round "
            f"{', '.join(f'{r:.2f}' for r in by_round)}"]


def run_all(params: ShopParams, repeat: int) -> None:
    """Build or reuse the store, measure both zones and print the figures."""
    import ecrm

    data_dir = ensure_dataset(params)
    as_of = as_of_time(params)
    db = sqlite_store(data_dir)
    crm = ecrm.CRM.open(f"sqlite:///{db}")
    print(f"cohorts: {data_dir.name}, monthly, as of {as_of.isoformat()}, {repeat} "
          f"round{'s' if repeat > 1 else ''} (medians)")
    lines = [f"{'zone':<12} {'cells':>6} {'ecrm s':>7} {'SQL s':>7} {'ecrm/SQL':>9}"]
    for tz in ZONES:
        lines += compare(tz, {"ecrm": ecrm_side(crm, tz, as_of),
                              "SQL by hand": hand_sql_side(db, crm.tenant, tz, as_of,
                                                           crm.currency)}, repeat)
    crm.close()
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds")
    args = parser.parse_args(argv)
    run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)


if __name__ == "__main__":
    main()
