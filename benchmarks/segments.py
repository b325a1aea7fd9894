"""Segments benchmark: a five-condition rule evaluated by ecrm against the same question
written by hand, on the synthetic shop, in the same run.

- SQLite: ``segment_query.matching`` on the ecrm database built by the ingest path,
  against one hand-written SQL statement run through the raw ``sqlite3`` module on the
  same file;
- memory: the same call on a ``MemoryBackend`` loaded through the same importers, against
  a hand-written Python loop over that backend's dicts.

Both sides must select exactly the same customers; ``--repeat`` rounds alternate which
side goes first and the medians are printed with each round's ratio.

    python -m benchmarks.segments --scale 1.0 --repeat 5

The SQLite database is built once per data set and kept in ``benchmarks/.data/`` (about
2.5 minutes at scale 1.0); the memory backend is loaded from the CSV files on every run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchmarks import ingest
from benchmarks.baseline import utc_text
from benchmarks.generator import JST, ShopParams, ensure_dataset

#: The rule, in the text form. Thresholds picked so that about 4% of customers match.
RULE = ('orders.count >= 3 and days_since_last_order <= 180 '
        'and orders.total_spent >= 20000 '
        'and prefecture in ("東京都", "神奈川県", "千葉県", "埼玉県") and gender == "female"')
PREFECTURES = ("東京都", "神奈川県", "千葉県", "埼玉県")
MIN_ORDERS, MAX_DAYS, MIN_SPENT, GENDER = 3, 180, 20000, "female"
GOALS = {"sqlite": 1.5, "memory": 2.0}

#: The hand-written query: customers narrowed by their own columns first (a scan of the
#: tenant's customers in id order, which the GROUP BY and ORDER BY reuse), then each
#: one's orders found through the (tenant_id, customer_id, placed_at) index and
#: aggregated in one pass. ``days_since_last_order <= 180`` is ``last > as_of - 181 days``.
HAND_SQL = f"""
SELECT c.id
FROM ecrm_customers AS c
JOIN ecrm_orders AS o
  ON o.tenant_id = c.tenant_id AND o.customer_id = c.id
 AND o.status != 'cancelled' AND o.placed_at <= :as_of
WHERE c.tenant_id = :tenant AND c.gender = :gender
  AND c.prefecture IN ({", ".join(f":p{n}" for n in range(len(PREFECTURES)))})
GROUP BY c.id
HAVING count(*) >= :min_orders
   AND max(o.placed_at) > :last_after
   AND sum(CASE WHEN o.currency = :currency THEN o.total_minor - o.refunded_minor
                ELSE 0 END) >= :min_spent
ORDER BY c.id
"""


def as_of_time(params: ShopParams) -> datetime:
    """The end of the generated window: the moment after the last possible order."""
    start = datetime.fromisoformat(params.start).replace(tzinfo=JST)
    return start + timedelta(days=params.window_days)


# -- the stores ------------------------------------------------------------------------

def sqlite_store(data_dir: Path) -> Path:
    """The data set imported into ecrm on a SQLite file, built unless an earlier run left
    one for the same data set (``segments-ecrm.json`` holds its manifest)."""
    db, stamp = data_dir / "segments-ecrm.db", data_dir / "segments-ecrm.json"
    manifest = (data_dir / "manifest.json").read_text()
    if db.exists() and stamp.exists() and stamp.read_text() == manifest:
        return db
    stamp.unlink(missing_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    ingest.run_ecrm(data_dir, db, ingest.BATCH_SIZE)
    print(f"  built {db.name} in {time.perf_counter() - started:.0f} s")
    stamp.write_text(manifest)
    return db


def memory_store(data_dir: Path) -> Any:
    """A CRM on a fresh ``MemoryBackend`` holding the data set, via the same importers."""
    import ecrm

    crm = ecrm.CRM.open("memory://")
    started = time.perf_counter()
    for service, reader, name in ((crm.customers, ecrm.read_customers_csv, "customers.csv"),
                                  (crm.orders, ecrm.read_orders_csv, "orders.csv")):
        report = service.import_many(reader(data_dir / name), batch_size=ingest.BATCH_SIZE)
        if report.rejected or report.skipped:
            raise SystemExit(f"{name}: {report.rejected[:3]} ({report.skipped} skipped)")
    print(f"  loaded the memory backend in {time.perf_counter() - started:.0f} s")
    gc.collect()
    gc.freeze()  # the loaded shop is permanent: collections need not walk it each time
    return crm


# -- the two sides -----------------------------------------------------------------------

def ecrm_side(crm: Any, as_of: datetime) -> Callable[[], list[str]]:
    """ecrm's evaluation of :data:`RULE`: one read-only unit of work per call."""
    from ecrm.domain.segment_fields import FieldRegistry, RuleContext
    from ecrm.domain.segment_text import parse

    registry = FieldRegistry()
    rule = parse(RULE, registry)

    def run() -> list[str]:
        context = RuleContext(as_of, crm.currency, registry)
        with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
            return uow.segment_query.matching(rule, context)  # type: ignore[no-any-return]
    return run


def hand_sql_side(db: Path, tenant: str, as_of: datetime, currency: str
                  ) -> Callable[[], list[str]]:
    """:data:`HAND_SQL` on a raw ``sqlite3`` connection to the same file."""
    conn = sqlite3.connect(db)
    params = {"tenant": tenant, "as_of": utc_text(as_of), "gender": GENDER,
              "min_orders": MIN_ORDERS, "min_spent": MIN_SPENT, "currency": currency,
              "last_after": utc_text(as_of - timedelta(days=MAX_DAYS + 1)),
              **{f"p{n}": name for n, name in enumerate(PREFECTURES)}}
    return lambda: [row[0] for row in conn.execute(HAND_SQL, params)]


def hand_loop_side(crm: Any, as_of: datetime) -> Callable[[], list[str]]:
    """A plain Python loop over the memory backend's dicts, as the issue puts it: group
    the counted orders by customer once, then test the five conditions, cheap ones first.
    """
    data, cancelled, cutoff, last_after, wanted, min_spent, currency = _loop_terms(crm, as_of)

    def run() -> list[str]:
        by_customer: dict[str, list[Any]] = defaultdict(list)
        for order in data.orders.rows.values():
            if order.status is not cancelled and order.placed_at <= cutoff:
                by_customer[order.customer_id].append(order)
        chosen = []
        for customer in data.customers.rows.values():
            address = customer.address
            if customer.gender != GENDER or address is None \
                    or address.prefecture not in wanted:
                continue
            orders = by_customer.get(customer.id, ())
            if len(orders) < MIN_ORDERS or max(o.placed_at for o in orders) <= last_after:
                continue
            if sum(o.total - o.refunded for o in orders if o.currency == currency) \
                    >= min_spent:
                chosen.append(customer.id)
        return sorted(chosen)
    return run


def narrowed_loop_side(crm: Any, as_of: datetime) -> Callable[[], list[str]]:
    """A tighter loop: the customers who pass the profile conditions first, then one pass
    over the orders adding up count, last order and money for those customers alone."""
    data, cancelled, cutoff, last_after, wanted, min_spent, currency = _loop_terms(crm, as_of)

    def run() -> list[str]:
        candidates = {c.id for c in data.customers.rows.values() if c.gender == GENDER
                      and c.address is not None and c.address.prefecture in wanted}
        totals: dict[str, list[Any]] = {}
        for order in data.orders.rows.values():
            customer_id = order.customer_id
            if customer_id not in candidates or order.status is cancelled \
                    or order.placed_at > cutoff:
                continue
            found = totals.get(customer_id)
            if found is None:
                found = totals[customer_id] = [0, order.placed_at, Decimal(0)]
            found[0] += 1
            found[1] = max(found[1], order.placed_at)
            if order.currency == currency:
                found[2] += order.total - order.refunded
        return sorted(customer_id for customer_id, (count, last, spent) in totals.items()
                      if count >= MIN_ORDERS and last > last_after and spent >= min_spent)
    return run


def _loop_terms(crm: Any, as_of: datetime) -> tuple[Any, ...]:
    """What both loops compare with: times in UTC, as ecrm stores them (an aware
    comparison across time zones costs about 30 times one within a zone)."""
    from ecrm.domain.orders import OrderStatus

    data = crm.backend._tenants[crm.tenant]  # the dicts the backend keeps
    cutoff = as_of.astimezone(timezone.utc)
    return (data, OrderStatus.CANCELLED, cutoff, cutoff - timedelta(days=MAX_DAYS + 1),
            frozenset(PREFECTURES), Decimal(MIN_SPENT), crm.currency)


# -- measuring ---------------------------------------------------------------------------

def timed(run: Callable[[], list[str]]) -> tuple[float, list[str]]:
    """Wall seconds of one call, and its result. Garbage from earlier calls is collected
    first, so that neither side pays for the other's."""
    gc.collect()
    started = time.perf_counter()
    ids = run()
    return time.perf_counter() - started, ids


def compare(label: str, sides: dict[str, Callable[[], list[str]]], repeat: int
            ) -> dict[str, Any]:
    """A warm-up call of each side (all must agree), then ``repeat`` rounds, alternating
    the order of the sides; each side's seconds by round, and the members."""
    members = sides["ecrm"]()
    for name, run in sides.items():
        found = run()
        if found != members:
            raise SystemExit(f"{label}: ecrm selects {len(members):,} customers, {name} "
                             f"{len(found):,}; {len(set(members) ^ set(found)):,} differ")
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    order = list(sides.items())
    for round_no in range(repeat):
        for name, run in order if round_no % 2 == 0 else order[::-1]:
            elapsed, ids = timed(run)
            if ids != members:
                raise SystemExit(f"{label}: {name} changed its answer in round {round_no}")
            seconds[name].append(elapsed)
    return {"members": members, "seconds": seconds}


def report(results: dict[str, dict[str, Any]], customers: int) -> list[str]:
    """The printed table and the per-round ratios."""
    out = [f"{'backend':<8} {'baseline':<22} {'members':>8} {'ecrm s':>7} {'base s':>7} "
           f"{'ecrm/base':>9} {'goal':>6}"]
    ratios = []
    for label, result in results.items():
        seconds = result["seconds"]
        ecrm_s = statistics.median(seconds["ecrm"])
        for name, times in seconds.items():
            if name == "ecrm":
                continue
            base_s = statistics.median(times)
            out.append(f"{label:<8} {name:<22} {len(result['members']):>8,} {ecrm_s:>7.3f} "
                       f"{base_s:>7.3f} {ecrm_s / base_s:>9.2f} "
                       f"{'<= ' + str(GOALS[label]):>6}")
            by_round = [e / b for e, b in zip(seconds["ecrm"], times, strict=True)]
            ratios.append(f"{label}, {name}: ecrm/base by round "
                          f"{', '.join(f'{r:.2f}' for r in by_round)} "
                          f"(median {statistics.median(by_round):.2f})")
    return [*out, f"(members of {customers:,} customers; seconds are wall time, medians)",
            *ratios]


def external_ids(db: Path, ids: list[str]) -> set[str]:
    """The external ids of the SQLite customers ``ids``."""
    conn = sqlite3.connect(db)
    try:
        wanted = set(ids)
        return {ext for id_, ext in conn.execute("SELECT id, external_id FROM ecrm_customers")
                if id_ in wanted}
    finally:
        conn.close()


def run_all(params: ShopParams, repeat: int, backends: tuple[str, ...] = ("sqlite", "memory")
            ) -> dict[str, Any]:
    """Build or load the stores, measure each backend and print the figures."""
    import ecrm

    data_dir = ensure_dataset(params)
    as_of = as_of_time(params)
    totals = json.loads((data_dir / "manifest.json").read_text())["totals"]
    print(f"segments: {data_dir.name}, as of {as_of.isoformat()}, {repeat} "
          f"round{'s' if repeat > 1 else ''} (medians)\nrule: {RULE}")
    results, chosen = {}, {}
    if "sqlite" in backends:
        db = sqlite_store(data_dir)
        crm = ecrm.CRM.open(f"sqlite:///{db}")
        results["sqlite"] = compare("sqlite", {
            "ecrm": ecrm_side(crm, as_of),
            "SQL by hand": hand_sql_side(db, crm.tenant, as_of, crm.currency)}, repeat)
        chosen["sqlite"] = external_ids(db, results["sqlite"]["members"])
        crm.close()
    if "memory" in backends:
        crm = memory_store(data_dir)
        results["memory"] = compare("memory", {
            "ecrm": ecrm_side(crm, as_of), "loop: group, then test": hand_loop_side(crm, as_of),
            "loop: customers first": narrowed_loop_side(crm, as_of)}, repeat)
        rows = crm.backend._tenants[crm.tenant].customers.rows
        chosen["memory"] = {rows[i].external_id for i in results["memory"]["members"]}
    print("\n".join(report(results, totals["customers"])))
    if len(chosen) == 2:
        same = chosen["sqlite"] == chosen["memory"]
        print(f"same members on both backends (by external id): {'yes' if same else 'NO'}")
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    backend_benchmark_main(run_all, __doc__, argv)


def backend_benchmark_main(run: Callable[..., Any], doc: str | None,
                           argv: list[str] | None) -> None:
    """The command line of a benchmark that runs ``run(params, repeat, backends)`` on
    SQLite and memory: ``--scale``, ``--seed``, ``--repeat`` and ``--backend``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5, help="alternating rounds")
    parser.add_argument("--backend", choices=("sqlite", "memory"), action="append",
                        help="measure only this backend (may be repeated)")
    args = parser.parse_args(argv)
    run(ShopParams(scale=args.scale, seed=args.seed), args.repeat,
        tuple(args.backend or ("sqlite", "memory")))


if __name__ == "__main__":
    main()
