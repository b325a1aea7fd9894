"""RFM benchmark: ``crm.analytics.rfm()`` against the same table worked out by hand, on
the synthetic shop, in the same run.

- SQLite: ecrm on the database the segments benchmark builds, against one hand-written
  SQL statement (GROUP BY customer, window functions, the segment by CASE) run through
  the raw ``sqlite3`` module on the same file, fetching every row;
- memory: ecrm on a ``MemoryBackend`` loaded through the same importers, against a
  hand-written Python loop over that backend's dicts (group, sort, bisect); and the peak
  memory (``tracemalloc``) of each.

Both sides must give exactly the same rows (customer, days, orders, money, R, F, M, score
and segment); ``--repeat`` rounds alternate which side goes first and the medians are
printed with each round's ratio.

    python -m benchmarks.rfm --scale 1.0 --repeat 5
"""

from __future__ import annotations

import gc
import sqlite3
import statistics
import tracemalloc
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from benchmarks.baseline import utc_text
from benchmarks.generator import ShopParams, ensure_dataset
from benchmarks.segments import (
    as_of_time,
    backend_benchmark_main,
    memory_store,
    sqlite_store,
    timed,
)

BINS = 5
GOALS = {"sqlite": 1.5, "memory": 1.5, "memory peak": 1.5}
Row = tuple[str, int, int, int, int, int, int, str, str]

#: The default segments on (R, F), first match wins, as a CASE.
SEGMENT_CASE = """CASE
    WHEN r = 1 AND f = 1 THEN 'lost'
    WHEN r <= 2 AND f <= 2 THEN 'hibernating'
    WHEN r <= 2 AND f <= 4 THEN 'at_risk'
    WHEN r <= 2 THEN 'cant_lose'
    WHEN r = 3 AND f <= 2 THEN 'about_to_sleep'
    WHEN r = 3 AND f = 3 THEN 'need_attention'
    WHEN r <= 4 AND f >= 4 THEN 'loyal'
    WHEN r = 4 AND f = 1 THEN 'promising'
    WHEN r = 5 AND f = 1 THEN 'new'
    WHEN f <= 3 THEN 'potential_loyalist'
    ELSE 'champions' END"""

#: The hand-written query. Whole days are counted to the microsecond as ecrm does (the
#: stored text's seconds through strftime, its microseconds read apart: SQLite's date
#: functions round to milliseconds, and julianday differences to a float).
HAND_SQL = f"""
SELECT customer_id, recency_days, frequency, monetary, r, f, m,
       r || f || m AS score, {SEGMENT_CASE} AS segment
FROM (
  SELECT customer_id, recency_days, frequency, monetary,
         1 + (:bins * (RANK() OVER (ORDER BY recency_days DESC) - 1)) / COUNT(*) OVER () AS r,
         1 + (:bins * (RANK() OVER (ORDER BY frequency) - 1)) / COUNT(*) OVER () AS f,
         1 + (:bins * (RANK() OVER (ORDER BY monetary) - 1)) / COUNT(*) OVER () AS m
  FROM (
    SELECT customer_id,
           (:as_of_us - (CAST(strftime('%s', substr(max(placed_at), 1, 19)) AS INTEGER)
                         * 1000000 + CAST(substr(max(placed_at), 21, 6) AS INTEGER)))
             / 86400000000 AS recency_days,
           count(*) AS frequency,
           sum(CASE WHEN currency = :currency THEN total_minor - refunded_minor ELSE 0 END)
             AS monetary
    FROM ecrm_orders
    WHERE tenant_id = :tenant AND status != 'cancelled' AND placed_at <= :as_of
    GROUP BY customer_id))
ORDER BY customer_id
"""
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
DAY, MICROSECOND = timedelta(days=1), timedelta(microseconds=1)


# -- the sides ----------------------------------------------------------------------------

def ecrm_side(crm: Any, as_of: datetime) -> Callable[[], Any]:
    """``crm.analytics.rfm(as_of=...)``, the whole table."""
    return lambda: crm.analytics.rfm(as_of=as_of, bins=BINS)


def as_tuples(table: Any, exponent: int) -> list[Row]:
    """ecrm's rows as the baselines give them (money in minor units)."""
    return [(row.customer_id, row.recency_days, row.frequency,
             int(row.monetary.scaleb(exponent)), row.r, row.f, row.m, row.score, row.segment)
            for row in table]


def hand_sql_side(db: Path, tenant: str, as_of: datetime, currency: str
                  ) -> Callable[[], list[Row]]:
    """:data:`HAND_SQL` on a raw ``sqlite3`` connection to the same file, every row
    fetched."""
    conn = sqlite3.connect(db)
    params = {"tenant": tenant, "as_of": utc_text(as_of), "currency": currency,
              "as_of_us": (as_of - EPOCH) // MICROSECOND, "bins": BINS}
    return lambda: conn.execute(HAND_SQL, params).fetchall()


def segment_of(r: int, f: int) -> str:
    """The default segments on (R, F), written out by hand."""
    if r <= 2:
        if r == 1 and f == 1:
            return "lost"
        return "hibernating" if f <= 2 else "at_risk" if f <= 4 else "cant_lose"
    if r == 3:
        return "about_to_sleep" if f <= 2 else "need_attention" if f == 3 else "loyal"
    if f >= 4:
        return "loyal" if r == 4 else "champions"
    if f == 1:
        return "promising" if r == 4 else "new"
    return "potential_loyalist"


def hand_loop_side(crm: Any, as_of: datetime) -> Callable[[], list[Row]]:
    """A plain Python loop over the memory backend's dicts: one pass adding up each
    customer's last order, count and money (in minor units), then each metric sorted
    once and every customer's score found by bisection."""
    from ecrm.domain.money import CURRENCY_EXPONENTS
    from ecrm.domain.orders import OrderStatus

    data = crm.backend._tenants[crm.tenant]  # the dicts the backend keeps
    cutoff, cancelled, currency = as_of.astimezone(timezone.utc), OrderStatus.CANCELLED, \
        crm.currency
    scale = 10 ** CURRENCY_EXPONENTS[currency]

    def run() -> list[Row]:
        totals: dict[str, list[Any]] = {}
        for order in data.orders.rows.values():
            if order.status is cancelled or order.placed_at > cutoff:
                continue
            net = order.total - order.refunded if order.currency == currency else 0
            found = totals.get(order.customer_id)
            if found is None:
                totals[order.customer_id] = [order.placed_at, 1, net]
            else:
                if order.placed_at > found[0]:
                    found[0] = order.placed_at
                found[1] += 1
                found[2] += net
        ids = sorted(totals)
        days = [(cutoff - totals[c][0]) // DAY for c in ids]
        counts = [totals[c][1] for c in ids]
        money = [int(totals[c][2] * scale) for c in ids]
        n = len(ids)
        by_days, by_count, by_money = sorted(days), sorted(counts), sorted(money)
        rows = []
        for i, customer_id in enumerate(ids):
            r = 1 + BINS * (n - bisect_right(by_days, days[i])) // n
            f = 1 + BINS * bisect_left(by_count, counts[i]) // n
            m = 1 + BINS * bisect_left(by_money, money[i]) // n
            rows.append((customer_id, days[i], counts[i], money[i], r, f, m, f"{r}{f}{m}",
                         segment_of(r, f)))
        return rows
    return run


# -- measuring ------------------------------------------------------------------------------

def same_rows(ecrm: Callable[[], Any], exponent: int) -> Callable[[], list[Row]]:
    """ecrm's side as comparable tuples (the conversion is outside the timed call)."""
    return lambda: as_tuples(ecrm(), exponent)


def peak(run: Callable[[], Any]) -> int:
    """The peak of memory allocated while ``run`` runs (``tracemalloc``), in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return top


def measure(label: str, ecrm: Callable[[], Any], base_name: str, base: Callable[[], Any],
            exponent: int, repeat: int) -> dict[str, Any]:
    """Both sides agree (checked), then ``repeat`` alternating timed rounds."""
    expected = as_tuples(ecrm(), exponent)
    found = base()
    if found != expected:
        differ = [(a, b) for a, b in zip(expected, found, strict=False) if a != b]
        raise SystemExit(f"{label}: ecrm gives {len(expected):,} rows, {base_name} "
                         f"{len(found):,}; {len(differ):,} differ, e.g. {differ[:1]}")
    seconds: dict[str, list[float]] = {"ecrm": [], base_name: []}
    sides = [("ecrm", ecrm), (base_name, base)]
    for round_no in range(repeat):
        for name, run in sides if round_no % 2 == 0 else sides[::-1]:
            seconds[name].append(timed(run)[0])
    return {"rows": len(expected), "seconds": seconds}


def report(label: str, result: dict[str, Any]) -> list[str]:
    seconds = result["seconds"]
    (base_name, base), ecrm = [(n, t) for n, t in seconds.items() if n != "ecrm"][0], \
        seconds["ecrm"]
    ecrm_s, base_s = statistics.median(ecrm), statistics.median(base)
    by_round = [e / b for e, b in zip(ecrm, base, strict=True)]
    return [f"{label:<8} {base_name:<14} {result['rows']:>8,} {ecrm_s:>7.3f} {base_s:>7.3f} "
            f"{ecrm_s / base_s:>9.2f} {'<= ' + str(GOALS[label]):>6}",
            f"         by round: {', '.join(f'{r:.2f}' for r in by_round)}"]


def run_all(params: ShopParams, repeat: int, backends: tuple[str, ...] = ("sqlite", "memory")
            ) -> dict[str, Any]:
    """Build or load the stores, measure each backend and print the figures."""
    import ecrm
    from ecrm.domain.money import CURRENCY_EXPONENTS

    data_dir = ensure_dataset(params)
    as_of = as_of_time(params)
    print(f"rfm: {data_dir.name}, as of {as_of.isoformat()}, {BINS} bins, {repeat} "
          f"round{'s' if repeat > 1 else ''} (medians)")
    lines = [f"{'backend':<8} {'baseline':<14} {'rows':>8} {'ecrm s':>7} {'base s':>7} "
             f"{'ecrm/base':>9} {'goal':>6}"]
    results: dict[str, Any] = {}
    if "sqlite" in backends:
        db = sqlite_store(data_dir)
        crm = ecrm.CRM.open(f"sqlite:///{db}")
        exponent = CURRENCY_EXPONENTS[crm.currency]
        results["sqlite"] = measure("sqlite", ecrm_side(crm, as_of), "SQL by hand",
                                    hand_sql_side(db, crm.tenant, as_of, crm.currency),
                                    exponent, repeat)
        lines += report("sqlite", results["sqlite"])
        crm.close()
    if "memory" in backends:
        crm = memory_store(data_dir)
        exponent = CURRENCY_EXPONENTS[crm.currency]
        mine, loop = ecrm_side(crm, as_of), hand_loop_side(crm, as_of)
        results["memory"] = measure("memory", mine, "loop by hand", loop, exponent, repeat)
        lines += report("memory", results["memory"])
        peaks = {"ecrm": peak(mine), "loop by hand": peak(loop)}
        results["memory peak"] = peaks
        lines.append(f"{'memory peak':<23} {'':>8} {peaks['ecrm'] / 2**20:>6.0f}M "
                     f"{peaks['loop by hand'] / 2**20:>6.0f}M "
                     f"{peaks['ecrm'] / peaks['loop by hand']:>9.2f} "
                     f"{'<= ' + str(GOALS['memory peak']):>6}")
    print("\n".join(lines))
    print("(seconds are wall time, medians; memory peak by tracemalloc, one call each)")
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    backend_benchmark_main(run_all, __doc__, argv)


if __name__ == "__main__":
    main()
