"""What PostgreSQL row-level security costs ecrm: the same calls with and without it, in
the same run, alternating rounds.

    python -m benchmarks.row_security --postgres postgresql+psycopg://postgres@host/db \\
        --ops 500 --repeat 3

It makes a schema and a login role of its own in that database (both dropped at the end;
see :func:`ecrm.testing.row_security.secured_schema`): it needs a superuser URL.
"With" is ecrm as that role under the policies with ``row_level_security=True`` (one
``set_config`` per unit of work, plus the policy's predicate on every statement);
"without" is ecrm as the superuser, whom the policies do not hold, on the same tables
and rows. No timed assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import ecrm
from ecrm.backends.sql import SQLBackend
from ecrm.testing.row_security import secured_schema

POSTGRES_ENV = "ECRM_BENCH_POSTGRES_URL"
TENANTS = ("shop-a", "shop-b")


def workload(crm: ecrm.CRM, ops: int, run: str) -> dict[str, float]:
    """Median microseconds of ``customers.get`` (a read unit) and ``loyalty.earn`` (a write
    unit) over ``ops`` calls each."""
    ids = [crm.customers.create(email=f"{run}-{n}@example.jp").id for n in range(ops)]
    return {
        "customers.get": _median(lambda n: crm.customers.get(ids[n]), ops),
        "loyalty.earn": _median(lambda n: crm.loyalty.earn(ids[n], 10, key=f"{run}-{n}"), ops),
    }


def _median(call: Callable[[int], object], ops: int) -> float:
    times = []
    for n in range(ops):
        start = time.perf_counter()
        call(n)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def compare(url: str, ops: int, repeat: int) -> None:
    """Print both sides' medians and the ratio, per operation."""
    with secured_schema(url, prefix="ecrm_rls_bench") as schema:
        sides = {"with RLS": ecrm.CRM(schema.backend(), tenant=TENANTS[0]),
                 "without": ecrm.CRM(SQLBackend(schema.owner), tenant=TENANTS[1])}
        results: dict[str, list[dict[str, float]]] = {side: [] for side in sides}
        for round_ in range(repeat):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for side in order:
                results[side].append(workload(sides[side], ops, f"{side[:4]}{round_}"))
    print(f"row-level security on PostgreSQL, {ops} calls x {repeat} rounds "
          "(median microseconds per call)")
    for op in results["with RLS"][0]:
        with_rls = statistics.median(r[op] for r in results["with RLS"])
        without = statistics.median(r[op] for r in results["without"])
        print(f"  {op:<14} with RLS {with_rls:8.0f}  without {without:8.0f}  "
              f"ratio {with_rls / without:.2f}")


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV),
                        help=f"a superuser SQLAlchemy URL (default: ${POSTGRES_ENV})")
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not args.postgres:
        parser.error(f"give --postgres URL or set {POSTGRES_ENV}")
    compare(args.postgres, args.ops, args.repeat)


if __name__ == "__main__":
    main()
