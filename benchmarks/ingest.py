"""Ingest benchmark: ecrm's bulk CSV import against a raw ``sqlite3`` baseline.

Each importer runs in a fresh subprocess on a fresh SQLite file, so each one's peak
memory (``ru_maxrss``) is its own. The parent prints rows, seconds, rows/s and the ratio
ecrm/raw, then checks that both databases hold the same rows.

    python -m benchmarks.ingest --scale 0.01
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import baseline
from benchmarks.generator import ShopParams, ensure_dataset

BATCH_SIZE = 1000


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark in MiB (Linux reports KiB).

    Linux carries the parent's high-water mark into a child across fork and exec, so the
    parent keeps itself small (see :func:`warm_page_cache`)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_page_cache(path: Path) -> None:
    """Read ``path`` once, a MiB at a time, so both importers find it cached alike."""
    with open(path, "rb") as handle:
        while handle.read(1 << 20):
            pass


def timed(phase: Callable[[], int]) -> dict[str, float]:
    """Run ``phase`` (which returns a row count); its rows, wall and CPU seconds and the
    peak RSS."""
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = phase()
    return {"rows": rows, "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started, "rss_mb": peak_rss_mb()}


def run_ecrm(data_dir: Path, db: Path, batch_size: int) -> dict[str, Any]:
    """Import the data set with ``crm.customers/orders.import_many`` from the CSV readers."""
    import ecrm

    crm = ecrm.CRM.open(f"sqlite:///{db}")

    def phase(service: Any, reader: Callable[[Path], Any], name: str) -> Callable[[], int]:
        def run() -> int:
            report = service.import_many(reader(data_dir / name), batch_size=batch_size)
            if report.rejected or report.skipped:
                raise SystemExit(f"{name}: {report.rejected[:3]} ({report.skipped} skipped)")
            return report.inserted
        return run

    result = {
        "customers": timed(phase(crm.customers, ecrm.read_customers_csv, "customers.csv")),
        "orders": timed(phase(crm.orders, ecrm.read_orders_csv, "orders.csv")),
    }
    crm.close()
    return result


def run_raw(data_dir: Path, db: Path, batch_size: int) -> dict[str, Any]:
    """Import the data set with the plain ``sqlite3`` baseline."""
    conn = baseline.connect(db)
    result = {
        "customers": timed(lambda: baseline.import_customers(
            conn, data_dir / "customers.csv", batch_size)),
        "orders": timed(lambda: baseline.import_orders(conn, data_dir / "orders.csv",
                                                       batch_size)),
    }
    conn.close()
    return result


WORKERS = {"ecrm": run_ecrm, "raw": run_raw}


def worker(kind: str, data_dir: Path, db: Path, batch_size: int,
           profile: Path | None = None) -> dict[str, Any]:
    """Run one importer here, under cProfile when ``profile`` names an output file."""
    if profile is None:
        return WORKERS[kind](data_dir, db, batch_size)
    import cProfile

    with cProfile.Profile() as profiler:
        result = WORKERS[kind](data_dir, db, batch_size)
    profiler.dump_stats(profile)
    return result


def in_subprocess(kind: str, data_dir: Path, db: Path, batch_size: int) -> dict[str, Any]:
    """Run one importer in a fresh interpreter and return its measurements."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    command = [sys.executable, "-m", "benchmarks.ingest", "--worker", kind,
               "--data", str(data_dir), "--db", str(db), "--batch-size", str(batch_size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.splitlines()[-1])


def table_counts(db: Path, tables: dict[str, str]) -> dict[str, Any]:
    """Row counts and yen totals, to check both importers stored the same data."""
    conn = sqlite3.connect(db)
    try:
        counts = {label: conn.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
                  for label, name in tables.items()}
        counts["sum(total_minor)"] = conn.execute(
            f"SELECT sum(total_minor) FROM {tables['orders']}").fetchone()[0]
        return counts
    finally:
        conn.close()


def report(ecrm_run: dict[str, Any], raw_run: dict[str, Any], lines: int) -> list[str]:
    """The printed table."""
    out = [f"{'phase':<10} {'rows':>10} {'ecrm s (cpu)':>14} {'ecrm rows/s':>12} "
           f"{'raw s (cpu)':>13} {'raw rows/s':>11} {'ecrm/raw':>9}"]
    for phase in ("customers", "orders"):
        e, r = ecrm_run[phase], raw_run[phase]
        e_rate, r_rate = e["rows"] / e["seconds"], r["rows"] / r["seconds"]
        e_time = f"{e['seconds']:.1f} ({e['cpu_seconds']:.1f})"
        r_time = f"{r['seconds']:.1f} ({r['cpu_seconds']:.1f})"
        out.append(f"{phase:<10} {e['rows']:>10,} {e_time:>14} {e_rate:>12,.0f} "
                   f"{r_time:>13} {r_rate:>11,.0f} {e_rate / r_rate:>9.2f}")
    out.append(f"(orders: {lines:,} CSV rows, one per order line; seconds are wall time, "
               "CPU time of the importing process in brackets)")
    out.append(f"peak RSS: ecrm {ecrm_run['orders']['rss_mb']:.0f} MiB "
               f"(after customers {ecrm_run['customers']['rss_mb']:.0f} MiB), "
               f"raw {raw_run['orders']['rss_mb']:.0f} MiB")
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per phase: the median wall and CPU seconds of ``runs``, and the highest peak RSS."""
    return {phase: {"rows": runs[0][phase]["rows"],
                    "seconds": statistics.median(r[phase]["seconds"] for r in runs),
                    "cpu_seconds": statistics.median(r[phase]["cpu_seconds"] for r in runs),
                    "rss_mb": max(r[phase]["rss_mb"] for r in runs)}
            for phase in runs[0]}


def round_ratios(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Each round's orders ratio ecrm/raw (throughput), to show the spread."""
    ratios = [r["orders"]["seconds"] / e["orders"]["seconds"]
              for e, r in zip(runs["ecrm"], runs["raw"], strict=True)]
    return ", ".join(f"{ratio:.2f}" for ratio in ratios)


def compare(data_dir: Path, batch_size: int = BATCH_SIZE, repeat: int = 1) -> dict[str, Any]:
    """Run both importers on ``data_dir`` (``repeat`` rounds, alternating, medians
    reported), print the table and return the figures."""
    for name in ("customers.csv", "orders.csv"):
        warm_page_cache(data_dir / name)
    work = data_dir.parent / "ingest"
    work.mkdir(exist_ok=True)
    runs: dict[str, list[dict[str, Any]]] = {"raw": [], "ecrm": []}
    for _ in range(repeat):
        for kind in runs:
            runs[kind].append(in_subprocess(kind, data_dir, work / f"{kind}.db", batch_size))
    totals = json.loads((data_dir / "manifest.json").read_text())["totals"]
    print(f"ingest: {data_dir.name}, batch size {batch_size}, "
          f"{repeat} round{'s' if repeat > 1 else ''} (medians)")
    print("\n".join(report(median_run(runs["ecrm"]), median_run(runs["raw"]),
                           totals["lines"])))
    if repeat > 1:
        print(f"orders ecrm/raw by round: {round_ratios(runs)}")
    stored = {
        "ecrm": table_counts(work / "ecrm.db", {"customers": "ecrm_customers",
                                               "orders": "ecrm_orders",
                                               "lines": "ecrm_order_lines"}),
        "raw": table_counts(work / "raw.db", {"customers": "customers", "orders": "orders",
                                             "lines": "order_lines"}),
    }
    same = stored["ecrm"] == stored["raw"]
    print(f"stored rows {'match' if same else 'DIFFER'}: {stored['ecrm']}")
    return {"runs": runs, "stored": stored}


def main(argv: list[str] | None = None) -> None:
    """Command line: compare, or (``--worker``) run one importer and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both importers")
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--data", type=Path)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--profile", type=Path, help="with --worker: write cProfile stats")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.db, args.batch_size,
                                args.profile)))
        return
    compare(ensure_dataset(ShopParams(scale=args.scale, seed=args.seed)), args.batch_size,
            args.repeat)


if __name__ == "__main__":
    main()
