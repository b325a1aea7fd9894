"""Segment members benchmark: ``add_members`` of one large segment, then ``member_ids``
and ``remove_members`` of half of it, against the driver's own ``executemany`` of the
same rows into the same table.

Each database gets a fresh store (a SQLite file; on PostgreSQL and MySQL/MariaDB the
schema dropped and created again: **never point it at a database that matters**) with
``--members`` customers and one static segment, put there through ecrm and not timed.
Then ``--repeat`` rounds, alternating which side goes first, each in its own unit of work
or transaction: ecrm's ``add_members`` (one call), ``member_ids``, ``remove_members`` of
every other member and removing the rest; the raw side ``executemany`` of the same
INSERT and a DELETE of the rows. Medians are printed, with the ratio raw/ecrm.

    python -m benchmarks.segment_members [--members 200000] [--repeat 3]
                                  [--postgres URL] [--mysql URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecrm.backends.sql import SQLBackend, make_engine
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.domain.segments import Membership, new_segment

MEMBERS = 200_000
TENANT = "bench"
SINCE = datetime(2026, 4, 1, tzinfo=UTC)
INSERT = ("INSERT INTO ecrm_segment_members (tenant_id, segment_id, customer_id, since) "
          "VALUES ({0}, {0}, {0}, {0})")
DELETE = "DELETE FROM ecrm_segment_members WHERE tenant_id = {0} AND segment_id = {0}"


def fresh_store(url: str, members: int) -> tuple[SQLBackend, str, list[str]]:
    """An empty schema holding ``members`` customers and one segment; the backend, the
    segment's id and the customers' ids."""
    backend = SQLBackend(make_engine(url))
    backend.drop_schema()
    backend.create_schema()
    customers = [new_id() for _ in range(members)]
    segment = new_segment(new_id(), SINCE, name="everyone", kind="static")
    with backend.unit_of_work(TENANT) as uow:
        uow.customers.add_many([Customer(id=c, created_at=SINCE, updated_at=SINCE,
                                         signed_up_at=SINCE) for c in customers])
        uow.segments.add(segment)
    if backend.engine.dialect.name == "postgresql":
        # As autovacuum would have by now in a shop: without statistics PostgreSQL may
        # check each member's customer key by walking the tenant's other customer index.
        with backend.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE ecrm_customers")
    return backend, segment.id, customers


def timed(work: Callable[[], Any]) -> float:
    """Seconds ``work()`` took."""
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def ecrm_round(backend: SQLBackend, segment_id: str, customers: list[str]
               ) -> dict[str, float]:
    """One round of ecrm's calls, each in a unit of work of its own."""
    def unit(work: Callable[[Any], Any], read_only: bool = False) -> Callable[[], Any]:
        def run() -> Any:
            with backend.unit_of_work(TENANT, read_only=read_only) as uow:
                return work(uow.segments)
        return run

    memberships = [Membership(segment_id, c, SINCE) for c in customers]
    figures = {"add_members": timed(unit(lambda r: r.add_members(memberships))),
               "member_ids": timed(unit(lambda r: r.member_ids(segment_id), True)),
               "remove half": timed(unit(lambda r: r.remove_members(segment_id,
                                                                     customers[::2])))}
    unit(lambda r: r.remove_members(segment_id, customers[1::2]))()
    return figures


def raw_round(backend: SQLBackend, segment_id: str, customers: list[str]
              ) -> dict[str, float]:
    """The same INSERT by the driver's ``executemany``, then a DELETE of the rows."""
    raw = backend.engine.raw_connection()
    try:
        mark = "?" if backend.engine.dialect.paramstyle == "qmark" else "%s"
        since: Any = SINCE.replace(tzinfo=None)
        if backend.engine.dialect.name == "sqlite":
            since = since.isoformat(sep=" ", timespec="microseconds")
        rows = [(TENANT, segment_id, c, since) for c in customers]
        cursor = raw.cursor()
        if backend.engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # ecrm's engines run sqlite3 in autocommit mode
        figure = timed(lambda: (cursor.executemany(INSERT.format(mark), rows), raw.commit()))
        cursor.execute(DELETE.format(mark), (TENANT, segment_id))
        raw.commit()
        return {"add_members": figure}
    finally:
        raw.close()


def measure(label: str, url: str, members: int, repeat: int) -> None:
    """Print the medians of ``repeat`` alternating rounds on one database."""
    backend, segment_id, customers = fresh_store(url, members)
    rounds: dict[str, list[dict[str, float]]] = {"ecrm": [], "raw": []}
    sides = {"ecrm": ecrm_round, "raw": raw_round}
    for n in range(repeat):
        for side in (("ecrm", "raw") if n % 2 == 0 else ("raw", "ecrm")):
            rounds[side].append(sides[side](backend, segment_id, customers))
    backend.close()
    ours = {name: statistics.median(r[name] for r in rounds["ecrm"])
            for name in rounds["ecrm"][0]}
    raw_add = statistics.median(r["add_members"] for r in rounds["raw"])
    print(f"{label}: {members:,} members, median of {repeat}")
    print(f"  add_members  {ours['add_members']:7.2f} s   raw executemany "
          f"{raw_add:7.2f} s   ratio {raw_add / ours['add_members']:.2f}")
    print(f"  member_ids   {ours['member_ids']:7.2f} s")
    print(f"  remove half  {ours['remove half']:7.2f} s")


def main(argv: list[str] | None = None) -> None:
    """Run on SQLite, and on the servers named by options or environment variables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("ECRM_BENCH_POSTGRES_URL"))
    parser.add_argument("--mysql", default=os.environ.get("ECRM_BENCH_MYSQL_URL"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        measure("SQLite (file)", f"sqlite:///{Path(directory) / 'segments.db'}",
                args.members, args.repeat)
    servers = (("PostgreSQL", args.postgres, "--postgres"),
               ("MySQL/MariaDB", args.mysql, "--mysql"))
    for label, url, option in servers:
        if url:
            measure(label, url, args.members, args.repeat)
        else:
            print(f"{label}: no URL given ({option}); skipped")


if __name__ == "__main__":
    main()
