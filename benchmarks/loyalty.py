"""Points benchmark: ecrm's ``earn`` and ``redeem`` against a raw SQL baseline.

Each side gets a fresh store (a SQLite file; on PostgreSQL the schema dropped and created
again) with the same customers and starting lots, put there through ecrm and not timed.
Then, timed, the same plan of single operations, each its own transaction as a shop would
call them: every earn, then every redeem. ecrm goes through ``crm.loyalty``; the baseline
(:class:`RawLedger`) issues the same SQL statements by hand with the driver (``sqlite3``,
``psycopg``) into the same tables. Afterwards the benchmark checks both stores hold the
same rows and point totals.

    python -m benchmarks.loyalty --ops 2000 --repeat 3 [--postgres URL]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ecrm.domain.ids import new_id

CUSTOMERS = 200
OPS = 2000
SEED = 42
WORK_DIR = Path(__file__).parent / ".data" / "loyalty"
POSTGRES_ENV = "ECRM_BENCH_POSTGRES_URL"

TENANT = "default"  # ecrm's default tenant
SCOPE = "points"  # ecrm's idempotency scope of point operations
SQLITE_TEXT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a naive UTC time in SQLite
SIDES = ("raw", "ecrm")


# -- the plan: the same operations for both sides -------------------------------------


@dataclass(frozen=True)
class Earn:
    customer: int  # index into the store's customer ids
    points: int
    key: str
    expires_in: timedelta | None = None


@dataclass(frozen=True)
class Redeem:
    customer: int
    points: int
    key: str


@dataclass(frozen=True)
class Plan:
    customers: int
    seed_lots: list[Earn]  # put in by ecrm on both sides, not timed
    earns: list[Earn]
    redeems: list[Redeem]


def make_plan(ops: int, customers: int = CUSTOMERS, seed: int = SEED) -> Plan:
    """Three starting lots per customer, then ``ops`` earns of 10-100 points (half of them
    expiring in 30-365 days) and ``ops`` redeems of 10-60 points, customers in turn. Lots
    hold 10-100 points, so a redeem often takes from two lots."""
    rng = random.Random(seed)
    held = [0] * customers

    def earn(i: int, key: str) -> Earn:
        points = rng.randint(10, 100)
        held[i % customers] += points
        expires = timedelta(days=rng.randint(30, 365)) if rng.random() < 0.5 else None
        return Earn(i % customers, points, key, expires)

    seed_lots = [earn(i, f"seed-{i}") for i in range(3 * customers)]
    earns = [earn(i, f"earn-{i}") for i in range(ops)]
    redeems = []
    for i in range(ops):
        c = i % customers
        points = min(rng.randint(10, 60), held[c])
        assert points > 0, "the plan spends more than a customer holds"
        held[c] -= points
        redeems.append(Redeem(c, points, f"redeem-{i}"))
    return Plan(customers, seed_lots, earns, redeems)


def expiry(op: Earn) -> datetime | None:
    """The expiry of an earn, from now (computed the same way on both sides)."""
    return None if op.expires_in is None else datetime.now(UTC) + op.expires_in


# -- stores ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A database to measure: ``sqlite`` (a file per side) or ``postgresql`` (one
    database, its ecrm schema recreated before each side runs)."""

    name: str
    postgres_url: str | None = None

    def url(self, side: str) -> str:
        if self.postgres_url is not None:
            return self.postgres_url
        return f"sqlite:///{self.sqlite_path(side)}"

    def sqlite_path(self, side: str) -> Path:
        return WORK_DIR / f"{side}.db"

    def connect(self, side: str) -> Any:
        """A DB-API connection for the baseline, set up as ecrm's engine sets up its own."""
        if self.postgres_url is None:
            conn = sqlite3.connect(self.sqlite_path(side), isolation_level=None)
            for pragma in ("foreign_keys = ON", "busy_timeout = 30000", "journal_mode = WAL",
                           "synchronous = NORMAL"):
                conn.execute(f"PRAGMA {pragma}")
            return conn
        import psycopg
        from sqlalchemy.engine import make_url

        return psycopg.connect(make_url(self.postgres_url).set(drivername="postgresql")
                               .render_as_string(hide_password=False))


def fresh_store(target: Target, side: str, plan: Plan) -> tuple[Any, list[str]]:
    """An empty ecrm schema for ``side`` with the plan's customers and starting lots;
    the open CRM and the customer ids."""
    import ecrm

    if target.postgres_url is None:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target.sqlite_path(side)}{suffix}").unlink(missing_ok=True)
    crm = ecrm.CRM.open(target.url(side), create_schema=False)
    crm.backend.drop_schema()
    crm.backend.create_schema()
    ids = [crm.customers.create(email=f"customer{i}@example.com", name=f"Customer {i}").id
           for i in range(plan.customers)]
    for op in plan.seed_lots:
        crm.loyalty.earn(ids[op.customer], op.points, key=op.key, expires_at=expiry(op))
    return crm, ids


# -- the two sides ---------------------------------------------------------------------


def timed(ops: Sequence[Any], do: Callable[[Any], object]) -> dict[str, float]:
    """Run ``do`` on every op; the count, wall seconds and CPU seconds of this process."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for op in ops:
        do(op)
    return {"ops": len(ops), "seconds": time.perf_counter() - started,
            "cpu_seconds": time.process_time() - cpu_started}


def run_ecrm(crm: Any, ids: list[str], plan: Plan) -> dict[str, dict[str, float]]:
    """The plan through ``crm.loyalty``, one call (one transaction) per operation."""
    loyalty = crm.loyalty
    return {
        "earn": timed(plan.earns, lambda op: loyalty.earn(
            ids[op.customer], op.points, key=op.key, expires_at=expiry(op))),
        "redeem": timed(plan.redeems, lambda op: loyalty.redeem(
            ids[op.customer], op.points, key=op.key)),
    }


def run_raw(ledger: RawLedger, ids: list[str], plan: Plan) -> dict[str, dict[str, float]]:
    """The plan through :class:`RawLedger`, one transaction per operation."""
    return {
        "earn": timed(plan.earns, lambda op: ledger.earn(
            ids[op.customer], op.points, op.key, expiry(op))),
        "redeem": timed(plan.redeems, lambda op: ledger.redeem(
            ids[op.customer], op.points, op.key)),
    }


class RawLedger:
    """The baseline: per operation, the statements ecrm's unit of work sends, written by
    hand for the DB-API driver, in one transaction.

    earn: lock the customer row, look up the idempotency key, insert the transaction, its
    two entries, its lot use, the lot and the key, commit. redeem: lock the customer, look
    up the key, read the customer's lots that hold points, choose them in Python
    (spendable now, soonest expiry first, never-expiring last), insert the transaction,
    its entries and lot uses, update the lots, insert the key, commit.

    It stores the same values as ecrm (time-ordered ids from the same generator, naive UTC
    times, a SHA-256 request fingerprint in the key row) but validates no argument and
    runs no hooks. It locks the customer by selecting its id alone, where ecrm reads the
    whole row.
    """

    def __init__(self, conn: Any, sqlite: bool) -> None:
        self.conn = conn
        self.cur = conn.cursor()
        self.sqlite = sqlite
        p = "?" if sqlite else "%s"

        def sql(text: str) -> str:
            return text.replace("?", p)

        lock = "" if sqlite else " FOR UPDATE"  # SQLite: BEGIN IMMEDIATE locks the file
        self.lock_customer = sql(
            f"SELECT id FROM ecrm_customers WHERE tenant_id = ? AND id = ?{lock}")
        self.get_key = sql("SELECT fingerprint, result_id FROM ecrm_idempotency_keys "
                           "WHERE tenant_id = ? AND scope = ? AND key = ?")
        self.insert_tx = sql(
            "INSERT INTO ecrm_point_transactions (tenant_id, id, customer_id, kind, points, "
            "occurred_at, reason, reference, reverses_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self.insert_entry = sql("INSERT INTO ecrm_point_entries (tenant_id, transaction_id, "
                                "account, points) VALUES (?, ?, ?, ?)")
        self.insert_use = sql("INSERT INTO ecrm_point_lot_uses (tenant_id, transaction_id, "
                              "lot_id, points) VALUES (?, ?, ?, ?)")
        self.insert_lot = sql(
            "INSERT INTO ecrm_point_lots (tenant_id, id, customer_id, transaction_id, amount, "
            "remaining, earned_at, available_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        self.insert_key = sql("INSERT INTO ecrm_idempotency_keys (tenant_id, scope, key, "
                              "fingerprint, result_id, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        self.select_lots = sql(
            "SELECT id, remaining, earned_at, available_at, expires_at FROM ecrm_point_lots "
            "WHERE tenant_id = ? AND customer_id = ? AND remaining > 0")
        self.update_lot = sql(
            "UPDATE ecrm_point_lots SET remaining = ? WHERE tenant_id = ? AND id = ?")

    def stored_time(self, moment: datetime) -> Any:
        """An aware UTC time as the column stores it: SQLAlchemy's text on SQLite, a naive
        timestamp on PostgreSQL."""
        naive = moment.replace(tzinfo=None)
        return naive.strftime(SQLITE_TEXT) if self.sqlite else naive

    def earn(self, customer_id: str, points: int, key: str,
             expires_at: datetime | None) -> str:
        """Give ``points`` in a new lot; the transaction id."""
        digest = fingerprint("earn", customer_id, points, expires_at)
        cur = self.cur
        self.begin()
        try:
            claimed = self.lock_and_check(customer_id, key, digest)
            if claimed is not None:
                self.conn.rollback()
                return claimed
            now = self.stored_time(datetime.now(UTC))
            expires = None if expires_at is None else self.stored_time(expires_at)
            tx_id, lot_id = new_id(), new_id()
            cur.execute(self.insert_tx, (TENANT, tx_id, customer_id, "earn", points, now,
                                         None, None, None))
            cur.executemany(self.insert_entry, [(TENANT, tx_id, "customer", points),
                                                (TENANT, tx_id, "system:issued", -points)])
            cur.execute(self.insert_use, (TENANT, tx_id, lot_id, -points))
            cur.execute(self.insert_lot, (TENANT, lot_id, customer_id, tx_id, points, points,
                                          now, now, expires))
            cur.execute(self.insert_key, (TENANT, SCOPE, key, digest, tx_id, now))
            self.conn.commit()
            return tx_id
        except BaseException:
            self.conn.rollback()
            raise

    def redeem(self, customer_id: str, points: int, key: str) -> str:
        """Spend ``points``, soonest-expiring lots first; the transaction id."""
        digest = fingerprint("redeem", customer_id, points, None)
        cur = self.cur
        self.begin()
        try:
            claimed = self.lock_and_check(customer_id, key, digest)
            if claimed is not None:
                self.conn.rollback()
                return claimed
            now = self.stored_time(datetime.now(UTC))
            cur.execute(self.select_lots, (TENANT, customer_id))
            # (id, remaining, earned_at, available_at, expires_at); SQLite's text times
            # compare like the times they spell.
            usable = sorted((lot for lot in cur.fetchall()
                             if lot[3] <= now and (lot[4] is None or lot[4] > now)),
                            key=lambda lot: (lot[4] is None, lot[4] or lot[2], lot[2], lot[0]))
            uses, left = [], points
            for lot in usable:
                take = min(left, lot[1])
                uses.append((lot[0], take, lot[1] - take))
                left -= take
                if not left:
                    break
            if left:
                raise ValueError(f"{points} exceeds the spendable points")
            tx_id = new_id()
            cur.execute(self.insert_tx, (TENANT, tx_id, customer_id, "redeem", -points, now,
                                         None, None, None))
            cur.executemany(self.insert_entry, [(TENANT, tx_id, "customer", -points),
                                                (TENANT, tx_id, "system:redeemed", points)])
            cur.executemany(self.insert_use, [(TENANT, tx_id, lot_id, take)
                                              for lot_id, take, _ in uses])
            cur.executemany(self.update_lot, [(remaining, TENANT, lot_id)
                                              for lot_id, _, remaining in uses])
            cur.execute(self.insert_key, (TENANT, SCOPE, key, digest, tx_id, now))
            self.conn.commit()
            return tx_id
        except BaseException:
            self.conn.rollback()
            raise

    def begin(self) -> None:
        """SQLite: take the write lock now, as ecrm's engine does. psycopg begins on the
        first statement."""
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")

    def lock_and_check(self, customer_id: str, key: str, digest: str) -> str | None:
        """Lock the customer; the earlier result's id when ``key`` was used already."""
        self.cur.execute(self.lock_customer, (TENANT, customer_id))
        if self.cur.fetchone() is None:
            raise LookupError(f"no customer {customer_id!r}")
        self.cur.execute(self.get_key, (TENANT, SCOPE, key))
        claimed = self.cur.fetchone()
        if claimed is None:
            return None
        if claimed[0] != digest:
            raise ValueError(f"idempotency key {key!r} was used for another request")
        return claimed[1]


def fingerprint(op: str, customer_id: str, points: int, expires_at: datetime | None) -> str:
    """A digest of the request, stored with the key to tell a replay from a reused key."""
    return hashlib.sha256(f"{op}|{customer_id}|{points}|{expires_at}".encode()).hexdigest()


# -- checking that both sides did the same work ---------------------------------------

COUNTS = {
    "transactions": "SELECT count(*) FROM ecrm_point_transactions",
    "entries": "SELECT count(*) FROM ecrm_point_entries",
    "lots": "SELECT count(*) FROM ecrm_point_lots",
    "lot uses": "SELECT count(*) FROM ecrm_point_lot_uses",
    "keys": "SELECT count(*) FROM ecrm_idempotency_keys",
    "redeem lot uses": "SELECT count(*) FROM ecrm_point_lot_uses u JOIN "
                       "ecrm_point_transactions t ON t.tenant_id = u.tenant_id AND "
                       "t.id = u.transaction_id WHERE t.kind = 'redeem'",
    "sum(points held)": "SELECT sum(points) FROM ecrm_point_entries WHERE account = 'customer'",
    "sum(lots remaining)": "SELECT sum(remaining) FROM ecrm_point_lots",
}


def stored(target: Target, side: str) -> dict[str, int]:
    """Row counts and point totals of ``side``'s store."""
    conn = target.connect(side)
    try:
        cur = conn.cursor()
        found = {}
        for label, query in COUNTS.items():
            cur.execute(query)
            found[label] = int(cur.fetchone()[0])
        return found
    finally:
        conn.close()


# -- rounds and the report -------------------------------------------------------------


def one_side(target: Target, side: str, plan: Plan) -> dict[str, Any]:
    """A fresh store for ``side``, the timed plan, then what it stored."""
    crm, ids = fresh_store(target, side, plan)
    if side == "ecrm":
        result = run_ecrm(crm, ids, plan)
        crm.close()
    else:
        crm.close()
        conn = target.connect(side)
        try:
            result = run_raw(RawLedger(conn, sqlite=target.postgres_url is None), ids, plan)
        finally:
            conn.close()
    return {"timings": result, "stored": stored(target, side)}


def report(runs: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The printed table: medians over the rounds."""
    out = [f"{'operation':<10} {'ops':>7} {'ecrm s (cpu)':>13} {'ecrm ops/s':>11} "
           f"{'raw s (cpu)':>12} {'raw ops/s':>10} {'ecrm/raw':>9}"]
    for op in ("earn", "redeem"):
        e = _median(r["timings"][op] for r in runs["ecrm"])
        r = _median(r["timings"][op] for r in runs["raw"])
        e_rate, r_rate = e["ops"] / e["seconds"], r["ops"] / r["seconds"]
        e_time = f"{e['seconds']:.2f} ({e['cpu_seconds']:.2f})"
        r_time = f"{r['seconds']:.2f} ({r['cpu_seconds']:.2f})"
        out.append(f"{op:<10} {e['ops']:>7,} {e_time:>13} {e_rate:>11,.0f} "
                   f"{r_time:>12} {r_rate:>10,.0f} {e_rate / r_rate:>9.2f}")
    return out


def _median(timings: Any) -> dict[str, float]:
    timings = list(timings)
    return {"ops": timings[0]["ops"],
            "seconds": statistics.median(t["seconds"] for t in timings),
            "cpu_seconds": statistics.median(t["cpu_seconds"] for t in timings)}


def round_ratios(runs: dict[str, list[dict[str, Any]]], op: str) -> str:
    """Each round's throughput ratio ecrm/raw for ``op``, to show the spread, and their
    median (the table's ratio is of the median seconds, which may come from different
    rounds)."""
    ratios = [r["timings"][op]["seconds"] / e["timings"][op]["seconds"]
              for e, r in zip(runs["ecrm"], runs["raw"], strict=True)]
    return (", ".join(f"{ratio:.2f}" for ratio in ratios)
            + f" (median {statistics.median(ratios):.2f})")


def describe(target: Target) -> str:
    """The database and its driver, for the heading."""
    if target.postgres_url is None:
        return f"SQLite {sqlite3.sqlite_version} (file, WAL, synchronous=NORMAL), sqlite3"
    import psycopg

    conn = target.connect("raw")
    try:
        settings = {}
        for name in ("server_version", "fsync", "synchronous_commit"):
            settings[name] = conn.execute(f"SHOW {name}").fetchone()[0]
    finally:
        conn.close()
    return (f"PostgreSQL {settings['server_version']} (fsync={settings['fsync']}, "
            f"synchronous_commit={settings['synchronous_commit']}), psycopg {psycopg.__version__}")


def compare(target: Target, ops: int = OPS, repeat: int = 1,
            customers: int = CUSTOMERS) -> dict[str, Any]:
    """``repeat`` rounds of both sides on ``target``, alternating which goes first; print
    the table and return the figures."""
    plan = make_plan(ops, customers)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for round_no in range(repeat):
        for side in (SIDES if round_no % 2 == 0 else SIDES[::-1]):
            runs[side].append(one_side(target, side, plan))
    print(f"points: {target.name}, {describe(target)}")
    print(f"{customers} customers with 3 lots each, then {ops:,} earns and {ops:,} redeems, "
          f"one transaction each; {repeat} round{'s' if repeat > 1 else ''} (medians)")
    print("\n".join(report(runs)))
    print("(seconds are wall time, CPU time of this Python process in brackets)")
    if repeat > 1:
        for op in ("earn", "redeem"):
            print(f"{op} ecrm/raw by round: {round_ratios(runs, op)}")
    ecrm_rows, raw_rows = runs["ecrm"][-1]["stored"], runs["raw"][-1]["stored"]
    same = ecrm_rows == raw_rows
    print(f"stored rows {'match' if same else 'DIFFER'}: ecrm {ecrm_rows}"
          + ("" if same else f", raw {raw_rows}"))
    return {"runs": runs, "same": same}


def compare_all(postgres_url: str | None, ops: int = OPS, repeat: int = 1,
                customers: int = CUSTOMERS) -> None:
    """SQLite, then PostgreSQL when a URL is given (a note says it was skipped if not)."""
    compare(Target("sqlite"), ops, repeat, customers)
    print()
    if postgres_url:
        compare(Target("postgresql", postgres_url), ops, repeat, customers)
    else:
        print(f"points on PostgreSQL skipped: pass --postgres URL or set {POSTGRES_ENV}")


def profile(target: Target, side: str, ops: int, customers: int, output: Path) -> None:
    """One side's plan under cProfile (setup excluded); the stats go to ``output``."""
    import cProfile
    import pstats

    plan = make_plan(ops, customers)
    crm, ids = fresh_store(target, side, plan)
    if side == "ecrm":
        with cProfile.Profile() as profiler:
            result = run_ecrm(crm, ids, plan)
        crm.close()
    else:
        crm.close()
        conn = target.connect(side)
        with cProfile.Profile() as profiler:
            result = run_raw(RawLedger(conn, sqlite=target.postgres_url is None), ids, plan)
        conn.close()
    profiler.dump_stats(output)
    print({op: f"{t['ops'] / t['seconds']:,.0f} ops/s" for op, t in result.items()})
    pstats.Stats(str(output)).sort_stats("tottime").print_stats(20)


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=OPS, help="earns, and as many redeems")
    parser.add_argument("--customers", type=int, default=CUSTOMERS)
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both sides")
    parser.add_argument("--postgres", default=os.environ.get(POSTGRES_ENV),
                        help=f"a SQLAlchemy URL; its ecrm tables are DROPPED (default: "
                             f"${POSTGRES_ENV})")
    parser.add_argument("--profile", type=Path, help="profile one side alone to this file")
    parser.add_argument("--side", choices=SIDES, default="ecrm", help="with --profile")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite",
                        help="with --profile")
    args = parser.parse_args(argv)
    if args.profile:
        if args.backend == "postgresql" and not args.postgres:
            parser.error(f"--backend postgresql needs --postgres or ${POSTGRES_ENV}")
        target = (Target("postgresql", args.postgres) if args.backend == "postgresql"
                  else Target("sqlite"))
        profile(target, args.side, args.ops, args.customers, args.profile)
        return
    from benchmarks.run import machine

    print(machine())
    compare_all(args.postgres, args.ops, args.repeat, args.customers)


if __name__ == "__main__":
    main()
