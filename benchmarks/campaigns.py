"""Launching a campaign to a 200,000-customer segment: ``crm.campaigns.launch`` (read the
audience, check consent and the suppression list, draw variants, render the templates,
put each member's record and message in the outbox, 1,000 members per unit of work)
against the driver's own ``executemany`` of the same rows (the outbox messages and the
member records, prepared before timing) into the same tables. Alternating rounds; each
round's rows are deleted before the next.

    python -m benchmarks.campaigns --customers 200000 --repeat 3 [--postgres URL] [--no-sqlite]

SQLite always; PostgreSQL with ``--postgres`` or ``ECRM_BENCH_POSTGRES_URL`` (its ecrm
tables are dropped and recreated). No timed assertions: the
ratio (raw time / ecrm time, the goal is at least 0.5) is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import ecrm
from ecrm.backends.sql import SQLBackend, make_engine
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id

TENANT = "default"
NOW = datetime(2026, 4, 1, 3, tzinfo=timezone.utc)  # noon in Tokyo
SUBJECT = "{{ customer.name }}様、春のセールのご案内"
BODY = ("{{ customer.name }}様\n\nいつもご利用ありがとうございます。本日より春のセールです。\n"
        "配信停止: {{ unsubscribe_url }}")
UNSUBSCRIBE = "https://shop.example/unsubscribe?t={token}"
OUTBOX = ("tenant_id", "id", "key", "customer_id", "channel", "purpose", "recipient",
          "subject", "body", "data", "priority", "campaign_id", "variant", "step", "status",
          "attempts", "due_at", "created_at", "sent_at", "last_error", "provider_id",
          "lease_until")
MEMBERS = ("tenant_id", "campaign_id", "customer_id", "variant", "status", "at",
           "message_id", "coupon_code", "reason")


def fresh_store(url: str, size: int) -> tuple[SQLBackend, str, list[tuple[str, str, str]]]:
    """A new schema with ``size`` opted-in customers in one static segment: the backend,
    the segment's id and each customer's (id, name, e-mail)."""
    backend = SQLBackend(make_engine(url))
    backend.drop_schema()
    backend.create_schema()
    people = [(new_id(), f"顧客 {n:06d}", f"c{n:06d}@example.jp") for n in range(size)]
    segment_id = new_id()
    with backend.unit_of_work(TENANT) as uow:
        uow.customers.add_many([Customer(id=cid, created_at=NOW, updated_at=NOW,
                                         signed_up_at=NOW, name=name, email=email)
                                for cid, name, email in people])
        uow.segments.add(ecrm.Segment(segment_id, "everyone", ecrm.SegmentKind.STATIC,
                                      NOW, NOW))
        uow.segments.add_members([ecrm.Membership(segment_id, cid, NOW)
                                  for cid, _, _ in people])
    raw_insert(backend, "ecrm_consents",
               ("tenant_id", "customer_id", "channel", "purpose", "granted", "changed_at",
                "source", "level"),
               [(TENANT, cid, "email", "marketing", True, stamp(backend, NOW), "bench",
                 "single") for cid, _, _ in people])
    settle(backend)
    return backend, segment_id, people


def settle(backend: SQLBackend) -> None:
    """On PostgreSQL, vacuum and analyze (as autovacuum would have by now) and write a
    checkpoint, so that no round pays for the writes before it."""
    if backend.engine.dialect.name == "postgresql":
        with backend.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")


def stamp(backend: SQLBackend, moment: datetime) -> Any:
    """A timestamp as the driver takes it for ecrm's UTC columns."""
    naive = moment.astimezone(timezone.utc).replace(tzinfo=None)
    if backend.engine.dialect.name == "sqlite":
        return naive.isoformat(sep=" ", timespec="microseconds")
    return naive


def raw_insert(backend: SQLBackend, table: str, columns: tuple[str, ...],
               rows: list[tuple[Any, ...]]) -> float:
    """Insert ``rows`` by the driver's ``executemany`` in one transaction; seconds."""
    raw = backend.engine.raw_connection()
    try:
        mark = "?" if backend.engine.dialect.paramstyle == "qmark" else "%s"
        cursor = raw.cursor()
        statement = (f"INSERT INTO {table} ({', '.join(columns)}) "
                     f"VALUES ({', '.join([mark] * len(columns))})")
        started = time.perf_counter()
        if backend.engine.dialect.name == "sqlite":
            cursor.execute("BEGIN")  # ecrm's engines run sqlite3 in autocommit mode
        cursor.executemany(statement, rows)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


def ecrm_round(backend: SQLBackend, segment_id: str, people: list[tuple[str, str, str]],
               run: int) -> float:
    """Seconds of one ``launch`` of a new campaign to the whole segment."""
    crm = ecrm.CRM(backend, tenant=TENANT, clock=ecrm.ManualClock(NOW),
                   secret="benchmark secret, long enough")
    campaign = crm.campaigns.create(f"spring {run}", segment=segment_id, subject=SUBJECT,
                                    body=BODY, unsubscribe_url=UNSUBSCRIBE)
    started = time.perf_counter()
    progress = crm.campaigns.launch(campaign.id)
    took = time.perf_counter() - started
    assert (progress.queued, progress.skipped) == (len(people), 0)
    clear(backend, campaign.id)
    return took


def raw_round(backend: SQLBackend, segment_id: str, people: list[tuple[str, str, str]],
              run: int) -> float:
    """Seconds of the same rows, rendered beforehand, by ``executemany``."""
    campaign_id, now = new_id(), stamp(backend, NOW)
    messages, members = [], []
    for cid, name, email in people:
        message_id = new_id()
        url = UNSUBSCRIBE.replace("{token}", "x" * 150)
        body = (f"{name}様\n\nいつもご利用ありがとうございます。本日より春のセールです。\n"
                f"配信停止: {url}")
        messages.append((TENANT, message_id, f"campaign:{campaign_id}:{cid}", cid, "email",
                         "marketing", email, f"{name}様、春のセールのご案内", body,
                         json.dumps({"unsubscribe_url": url}), 5, campaign_id, "default",
                         None, "pending", 0, now, now, None, None, None, None))
        members.append((TENANT, campaign_id, cid, "default", "queued", now, message_id, None,
                        None))
    with backend.unit_of_work(TENANT) as uow:  # the parent row the members point at
        uow.campaigns.add(ecrm.Campaign(campaign_id, f"raw {run}", "email", "marketing",
                                        segment_id, (ecrm.Variant("default", "x"),),
                                        ecrm.CampaignStatus.SENT, NOW, NOW))
    took = (raw_insert(backend, "ecrm_outbox", OUTBOX, messages)
            + raw_insert(backend, "ecrm_campaign_members", MEMBERS, members))
    clear(backend, campaign_id)
    return took


def clear(backend: SQLBackend, campaign_id: str) -> None:
    """Delete a round's rows, so every round starts from the same tables (settled)."""
    with backend.engine.begin() as conn:
        for table in ("ecrm_outbox", "ecrm_campaign_members"):
            conn.exec_driver_sql(f"DELETE FROM {table} WHERE tenant_id = '{TENANT}' AND "
                                 f"campaign_id = '{campaign_id}'")
    settle(backend)


def measure(label: str, url: str, size: int, repeat: int) -> None:
    """Print the medians of ``repeat`` alternating rounds on one database."""
    backend, segment_id, people = fresh_store(url, size)
    ours: list[float] = []
    theirs: list[float] = []
    for run in range(repeat):
        sides = [lambda r: ours.append(ecrm_round(backend, segment_id, people, r)),
                 lambda r: theirs.append(raw_round(backend, segment_id, people, r))]
        for side in sides if run % 2 == 0 else reversed(sides):
            side(run)
    backend.close()
    mine, base = statistics.median(ours), statistics.median(theirs)
    print(f"{label}: launch to {size:,} customers, median of {repeat}: ecrm {mine:.2f} s "
          f"(rounds {', '.join(f'{t:.2f}' for t in ours)}), raw executemany of the same "
          f"rows {base:.2f} s, ratio {base / mine:.2f}")


def main(argv: list[str] | None = None) -> None:
    """SQLite, and PostgreSQL when given."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", default=os.environ.get("ECRM_BENCH_POSTGRES_URL"))
    parser.add_argument("--no-sqlite", action="store_true", help="the server only")
    args = parser.parse_args(argv)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            measure("SQLite", f"sqlite:///{Path(folder) / 'campaigns.db'}", args.customers,
                    args.repeat)
    if args.postgres:
        measure("PostgreSQL", args.postgres, args.customers, args.repeat)
    else:
        print("PostgreSQL: skipped (give --postgres URL or ECRM_BENCH_POSTGRES_URL)")


if __name__ == "__main__":
    main()
