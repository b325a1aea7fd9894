"""Run every benchmark: generate (or reuse) the synthetic shop, then ingest, import time,
points earn/redeem (on SQLite, and on PostgreSQL when given a URL), segments, RFM,
cohorts, lifetime value, association-rule mining and recommendations.

    python -m benchmarks.run --scale 1.0 [--postgres URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from benchmarks import (
    clv,
    cohorts,
    import_time,
    ingest,
    loyalty,
    mining,
    recommendations,
    rfm,
    segments,
)
from benchmarks.generator import ShopParams, ensure_dataset


def machine() -> str:
    """One line describing where the figures come from."""
    import sqlite3

    import sqlalchemy

    return (f"{platform.platform()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"SQLAlchemy {sqlalchemy.__version__}")


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=ingest.BATCH_SIZE)
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds of both sides of each benchmark")
    parser.add_argument("--runs", type=int, default=15, help="interpreters per import timing")
    parser.add_argument("--ops", type=int, default=loyalty.OPS,
                        help="points: earns, and as many redeems")
    parser.add_argument("--postgres", default=os.environ.get(loyalty.POSTGRES_ENV),
                        help="points on PostgreSQL: a SQLAlchemy URL whose ecrm tables are "
                             f"DROPPED (default: ${loyalty.POSTGRES_ENV}; skipped if unset)")
    args = parser.parse_args(argv)
    print(machine())
    started = time.perf_counter()
    data_dir = ensure_dataset(ShopParams(scale=args.scale, seed=args.seed))
    totals = json.loads((data_dir / "manifest.json").read_text())["totals"]
    print(f"data set {data_dir} ({time.perf_counter() - started:.0f} s): {totals}\n")
    ingest.compare(data_dir, args.batch_size, args.repeat)
    print()
    import_time.compare(args.runs)
    print()
    loyalty.compare_all(args.postgres, args.ops, args.repeat)
    print()
    segments.run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)
    print()
    rfm.run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)
    cohorts.run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)
    clv.run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)
    print()
    mining.run_all(ShopParams(scale=args.scale, seed=args.seed), max(args.repeat, 3))
    print()
    recommendations.run_all(ShopParams(scale=args.scale, seed=args.seed))


if __name__ == "__main__":
    main()
