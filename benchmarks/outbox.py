"""The outbox's bulk path: ``crm.messages.enqueue`` of a campaign's messages in one unit
of work, against the driver's own ``executemany`` of the same rows into the same table
(raw ``sqlite3``), alternating rounds; then claims from the backlog.

    python -m benchmarks.outbox --messages 200000 --repeat 3

There are no timed assertions; the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import ecrm
from ecrm.domain.ids import new_id
from ecrm.domain.outbox import OutboxMessage, new_message

NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
COLUMNS = ("tenant_id", "id", "key", "customer_id", "channel", "purpose", "recipient",
           "subject", "body", "data", "priority", "campaign_id", "variant", "step", "status",
           "attempts", "due_at", "created_at", "sent_at", "last_error", "provider_id",
           "lease_until")


def campaign(count: int, run: str) -> list[OutboxMessage]:
    """``count`` validated messages of one campaign run."""
    return [new_message(message_id=new_id(), key=f"r{run}-{n}", channel="email",
                        purpose="marketing", customer_id=None,
                        recipient=f"c{n}@example.jp", subject="春のセール",
                        body="本日より春のセールです。", data=None, priority=n % 10,
                        due_at=None, campaign_id=f"spring-{run}", variant="ab"[n % 2],
                        step=None, now=NOW) for n in range(count)]


def by_ecrm(path: Path, messages: list[OutboxMessage]) -> float:
    crm = ecrm.CRM.open(f"sqlite:///{path}")
    start = time.perf_counter()
    crm.transact(lambda uow: crm.messages.enqueue(uow, messages))
    took = time.perf_counter() - start
    crm.close()
    return took


def by_hand(path: Path, messages: list[OutboxMessage]) -> float:
    """The same rows (keys looked up first, as enqueue does) by ``executemany``."""
    conn = sqlite3.connect(path, isolation_level=None)
    start = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    keys = [m.key for m in messages]
    for n in range(0, len(keys), 500):
        chunk = keys[n:n + 500]
        conn.execute(f"SELECT key FROM ecrm_outbox WHERE tenant_id = 'default' AND key IN "
                     f"({','.join('?' * len(chunk))})", chunk).fetchall()
    conn.executemany(
        f"INSERT INTO ecrm_outbox ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))})",
        [("default", m.id, m.key, None, m.channel, m.purpose, m.recipient, m.subject, m.body,
          json.dumps(dict(m.data)), m.priority, m.campaign_id, m.variant, m.step, "pending",
          0, m.due_at.replace(tzinfo=None).isoformat(" "), m.created_at.replace(
              tzinfo=None).isoformat(" "), None, None, None, None) for m in messages])
    conn.execute("COMMIT")
    took = time.perf_counter() - start
    conn.close()
    return took


def claims(path: Path, rounds: int) -> float:
    """Median seconds of one ``claim_due`` of 100 from the backlog."""
    crm = ecrm.CRM.open(f"sqlite:///{path}")
    times = []
    for n in range(rounds):
        start = time.perf_counter()
        with crm.backend.unit_of_work("default") as uow:
            uow.outbox.claim_due(NOW, 100, NOW + timedelta(minutes=5 + n))
        times.append(time.perf_counter() - start)
    crm.close()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "outbox.db"
        ecrm.CRM.open(f"sqlite:///{path}").close()  # the schema
        for run in range(args.repeat):
            sides = [(by_ecrm, ours), (by_hand, theirs)]
            for side, times in sides if run % 2 == 0 else reversed(sides):
                times.append(side(path, campaign(args.messages, f"{side.__name__}{run}")))
        claim = claims(path, 20)
    mine, base = statistics.median(ours), statistics.median(theirs)
    print(f"enqueue {args.messages:,} messages: ecrm {mine:.2f} s, sqlite3 executemany "
          f"{base:.2f} s, ratio {mine / base:.2f}x")
    print(f"claim 100 from a backlog of {args.messages * args.repeat * 2:,}: "
          f"{claim * 1000:.1f} ms (median of 20)")


if __name__ == "__main__":
    main()
