"""Run every benchmark in one go: generate (or reuse) the synthetic shop, then ingest,
import time, points earn/redeem, segments, RFM, cohorts, lifetime value, association-rule
mining and recommendations on that shop; then the benchmarks with stores of their own
(timeline, segment members, carts, the outbox, campaigns, row-level security), sized by
the same ``--scale``. PostgreSQL and MySQL/MariaDB sides run when given a URL.

    python -m benchmarks.run --scale 1.0 [--repeat 3] [--postgres URL] [--mysql URL]
    python -m benchmarks.run --scale 0.01 --only outbox,carts
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    campaigns,
    carts,
    clv,
    cohorts,
    import_time,
    ingest,
    loyalty,
    mining,
    outbox,
    recommendations,
    rfm,
    row_security,
    segment_members,
    segments,
    timeline,
)
from benchmarks.generator import ShopParams, ensure_dataset

MYSQL_ENV = "ECRM_BENCH_MYSQL_URL"


def machine() -> str:
    """One line describing where the figures come from."""
    import sqlite3

    import sqlalchemy

    return (f"{platform.platform()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
            f"SQLAlchemy {sqlalchemy.__version__}")


def shop_steps(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    """The benchmarks that run on the generated shop at ``--scale``."""
    shop = ShopParams(scale=args.scale, seed=args.seed)
    return {
        "ingest": lambda: ingest.compare(ensure_shop(shop), args.batch_size, args.repeat),
        "import_time": lambda: import_time.compare(args.runs),
        "loyalty": lambda: loyalty.compare_all(args.postgres, args.ops, args.repeat),
        "segments": lambda: segments.run_all(shop, args.repeat),
        "rfm": lambda: rfm.run_all(shop, args.repeat),
        "cohorts": lambda: cohorts.run_all(shop, args.repeat),
        "clv": lambda: clv.run_all(shop, args.repeat),
        "mining": lambda: mining.run_all(shop, max(args.repeat, 3)),
        "recommendations": lambda: recommendations.run_all(shop),
    }


def own_store_steps(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    """The benchmarks that build stores of their own, sized by ``--scale``."""
    def scaled(full_size: int) -> str:
        return str(max(10, round(full_size * args.scale)))

    repeat = ["--repeat", str(args.repeat)]
    postgres = ["--postgres", args.postgres] if args.postgres else []
    mysql = ["--mysql", args.mysql] if args.mysql else []
    return {
        "timeline": lambda: timeline.main(
            ["--small", scaled(timeline.SMALL), "--large", scaled(timeline.LARGE),
             *repeat, *postgres]),
        "segment_members": lambda: segment_members.main(
            ["--members", scaled(segment_members.MEMBERS), *repeat, *postgres, *mysql]),
        "carts": lambda: carts.main(["--customers", scaled(20_000), *repeat]),
        "outbox": lambda: outbox.main(["--messages", scaled(200_000), *repeat]),
        "campaigns": lambda: campaigns.main(["--customers", scaled(200_000), *repeat,
                                             *postgres]),
        "row_security": lambda: row_security_step(args),
    }


def row_security_step(args: argparse.Namespace) -> None:
    """Row-level security is PostgreSQL's: without a server there is nothing to measure."""
    if not args.postgres:
        print(f"row_security: skipped (give --postgres URL or set {loyalty.POSTGRES_ENV})")
        return
    row_security.main(["--postgres", args.postgres, "--repeat", str(args.repeat)])


def ensure_shop(shop: ShopParams) -> Path:
    """The shop's data set, generated on first use; prints its totals."""
    started = time.perf_counter()
    data_dir = ensure_dataset(shop)
    totals = json.loads((data_dir / "manifest.json").read_text())["totals"]
    print(f"data set {data_dir} ({time.perf_counter() - started:.0f} s): {totals}\n")
    return data_dir


def steps(args: argparse.Namespace) -> dict[str, Callable[[], None]]:
    """Every benchmark by name, in the order they run."""
    return shop_steps(args) | own_store_steps(args)


def command_line() -> argparse.ArgumentParser:
    """The runner's options."""
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
                        help="the PostgreSQL sides: a SQLAlchemy URL whose ecrm tables are "
                             f"DROPPED (default: ${loyalty.POSTGRES_ENV}; skipped if unset)")
    parser.add_argument("--mysql", default=os.environ.get(MYSQL_ENV),
                        help="the MySQL/MariaDB side of segment_members (tables DROPPED; "
                             f"default: ${MYSQL_ENV}; skipped if unset)")
    parser.add_argument("--only", type=names,
                        help="a comma-separated list of benchmarks to run, e.g. rfm,outbox")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = command_line()
    args = parser.parse_args(argv)
    chosen = steps(args)
    unknown = sorted(set(args.only or ()) - chosen.keys())
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; "
                     f"choose from {', '.join(chosen)}")
    print(machine())
    for name, run in chosen.items():
        if args.only is None or name in args.only:
            print(f"\n== {name}")
            run()


def names(text: str) -> list[str]:
    """``a,b`` -> ``["a", "b"]``."""
    return [name.strip() for name in text.split(",") if name.strip()]


if __name__ == "__main__":
    main()
