"""Timeline benchmark: the first page of one customer's timeline, with 20,000 and with
2,000,000 interactions in the store, in the same run.

Each size gets a fresh store (a SQLite file; on PostgreSQL the schema dropped and created
again). One customer owns ``size`` interactions over two years (every tenth a
``cart_add``, the rest page and product views, on web, app and e-mail), a few orders and
points transactions; 200 other customers own a tenth as many interactions between them.
Setup goes through ``crm.interactions.import_many`` and is not timed.

Timed, each the median of ``--calls`` calls: the first page (50 events), the page after
100 pages of paging (by cursor), and the first page of ``cart_add`` events only. Both
stores are built first; then ``--repeat`` rounds measure the small and the large store in
turn, and the medians are printed. The figure the issue asks for is the first page at the
large size against the small one (goal: at most 2x).

    python -m benchmarks.timeline [--small 20000] [--large 2000000] [--repeat 3]
                                  [--reuse] [--postgres URL]

Building 2,000,000 interactions takes about ten minutes on SQLite; ``--reuse`` keeps the
SQLite stores of an earlier run with the same sizes (``benchmarks/.data/timeline/``).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SMALL, LARGE = 20_000, 2_000_000
CALLS = 200
PAGE = 50
DEEP_PAGES = 100
OTHERS = 200
WORK_DIR = Path(__file__).parent / ".data" / "timeline"
POSTGRES_ENV = "ECRM_BENCH_POSTGRES_URL"
START = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_SECONDS = 2 * 365 * 24 * 3600


def interactions(customer_id: str, count: int, seed: int) -> Iterator[dict[str, Any]]:
    """``count`` import rows for ``customer_id`` spread over two years (unsorted)."""
    rng = random.Random(seed)
    for n in range(count):
        kind = "cart_add" if n % 10 == 0 else rng.choice(("page_view", "product_view"))
        yield {"customer_id": customer_id, "channel": rng.choice(("web", "app", "email")),
               "kind": kind, "sku": f"SKU-{rng.randrange(2000):04d}",
               "occurred_at": START + timedelta(seconds=rng.randrange(SPAN_SECONDS))}


def fresh_store(url: str, size: int) -> tuple[Any, str]:
    """A store holding ``size`` interactions of the measured customer; the CRM and that
    customer's id."""
    import ecrm

    crm = ecrm.CRM.open(url, create_schema=False)
    crm.backend.drop_schema()
    crm.backend.create_schema()
    target = crm.customers.create(email="target@example.com").id
    others = [crm.customers.create(email=f"c{n}@example.com").id for n in range(OTHERS)]
    started = time.perf_counter()
    report = crm.interactions.import_many(interactions(target, size, seed=1),
                                          batch_size=5000)
    for n, other in enumerate(others):
        crm.interactions.import_many(interactions(other, size // 10 // OTHERS, seed=n + 2))
    for n in range(20):
        crm.orders.record(order_id=f"O-{n}", customer_id=target, channel="web",
                          placed_at=START + timedelta(days=30 * n),
                          lines=[ecrm.OrderLine("SKU-0001", 1, 1000)])
        crm.loyalty.earn(target, 10, key=f"P-{n}")
    assert report.inserted == size, report
    print(f"  setup: {size:,} + {size // 10:,} interactions in "
          f"{time.perf_counter() - started:.0f} s")
    return crm, target


def median_ms(call: Callable[[], object], calls: int) -> float:
    """The median wall time of ``calls`` calls, in milliseconds (after one warm-up)."""
    call()
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(crm: Any, target: str, calls: int) -> dict[str, float]:
    """The three timings on a store."""
    timeline = crm.interactions.timeline
    cursor = None
    for _ in range(DEEP_PAGES):
        cursor = timeline(target, limit=PAGE, after=cursor).next_cursor
    return {
        "first page": median_ms(lambda: timeline(target, limit=PAGE), calls),
        f"page {DEEP_PAGES + 1}": median_ms(
            lambda: timeline(target, limit=PAGE, after=cursor), calls),
        "first page, cart_add only": median_ms(
            lambda: timeline(target, limit=PAGE, kinds=["cart_add"]), calls),
    }


def compare_sqlite(small: int, large: int, calls: int, repeat: int, reuse: bool) -> None:
    """Both sizes on SQLite files of their own, measured in alternating rounds."""
    stores = {size: sqlite_store(size, reuse) for size in (small, large)}
    report("SQLite (file, WAL)", stores, calls, repeat)


def compare_postgres(url: str, small: int, large: int, calls: int) -> None:
    """Both sizes on one PostgreSQL database, one after the other (one round)."""
    results = {}
    for size in (small, large):
        crm, target = fresh_store(url, size)
        results[size] = [measure(crm, target, calls)]
        crm.close()
    print_table("PostgreSQL", results, calls)


def sqlite_store(size: int, reuse: bool) -> tuple[Any, str]:
    """The SQLite store of ``size``: built now, or kept from an earlier run."""
    import ecrm

    path = WORK_DIR / f"timeline-{size}.db"
    ready = path.with_suffix(".ready")
    if reuse and ready.exists():
        print(f"  reusing {path}")
        return ecrm.CRM.open(f"sqlite:///{path}"), ready.read_text()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    crm, target = fresh_store(f"sqlite:///{path}", size)
    ready.write_text(target)
    return crm, target


def report(name: str, stores: dict[int, tuple[Any, str]], calls: int, repeat: int) -> None:
    """``repeat`` rounds over the stores in turn; the table of medians."""
    results: dict[int, list[dict[str, float]]] = {size: [] for size in stores}
    for _ in range(repeat):
        for size, (crm, target) in stores.items():
            results[size].append(measure(crm, target, calls))
    print_table(name, results, calls)


def print_table(name: str, results: dict[int, list[dict[str, float]]], calls: int) -> None:
    """Median milliseconds per call at each size, and the large/small ratio."""
    small, large = sorted(results)
    rounds = len(results[small])
    print(f"timeline: {name}, page of {PAGE}, median of {calls} calls, {rounds} round(s)")
    print(f"{'call':<28} {f'{small:,} (ms)':>14} {f'{large:,} (ms)':>16} {'ratio':>7}")
    for label in results[small][0]:
        small_ms = statistics.median(r[label] for r in results[small])
        large_ms = statistics.median(r[label] for r in results[large])
        print(f"{label:<28} {small_ms:>14.2f} {large_ms:>16.2f} {large_ms / small_ms:>7.2f}")


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=SMALL)
    parser.add_argument("--large", type=int, default=LARGE)
    parser.add_argument("--calls", type=int, default=CALLS)
    parser.add_argument("--repeat", type=int, default=3, help="rounds (SQLite)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep SQLite stores built by an earlier run")
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV),
                        help=f"a SQLAlchemy URL; its ecrm tables are DROPPED (default: "
                             f"${POSTGRES_ENV})")
    args = parser.parse_args(argv)
    from benchmarks.run import machine

    print(machine())
    compare_sqlite(args.small, args.large, args.calls, args.repeat, args.reuse)
    if args.postgres:
        print()
        compare_postgres(args.postgres, args.small, args.large, args.calls)
    else:
        print(f"\ntimeline on PostgreSQL skipped: pass --postgres URL or set {POSTGRES_ENV}")


if __name__ == "__main__":
    main()
