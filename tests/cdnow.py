"""The CDNOW sample (tests/data/cdnow): its purchases loaded into a CRM, and the
published summary of Fader, Hardie & Lee (2005)."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from ecrm import CRM, OrderLine

DATA = Path(__file__).parent / "data" / "cdnow"
#: The end of the 39-week calibration period: the last moment of 30 September 1997.
CALIBRATION_END = datetime(1997, 9, 30, 23, 59, 59, 999999, tzinfo=timezone.utc)


def purchases() -> list[tuple[str, datetime, Decimal]]:
    """``(sample id, midnight UTC of the purchase day, dollar value)`` per line of
    ``CDNOW_sample.txt`` (columns: master id, sample id, date, CDs, dollar value)."""
    found = []
    for line in (DATA / "CDNOW_sample.txt").read_text().splitlines():
        _master, sample_id, day, _cds, value = line.split()
        placed = datetime.strptime(day, "%Y%m%d").replace(tzinfo=timezone.utc)
        found.append((str(int(sample_id)), placed, Decimal(value)))
    return found


def published_summary() -> dict[str, dict[str, Any]]:
    """Sample id -> the CSV's x, t_x, T and zbar (as printed: two decimals)."""
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as f:
        return {row["ID"]: {"x": int(row["x"]), "t_x": Decimal(row["t_x"]),
                            "T": Decimal(row["T"]), "zbar": Decimal(row["zbar"])}
                for row in csv.DictReader(f)}


def load(crm: CRM) -> dict[str, str]:
    """Import the sample's customers and purchases (one order per line, one line of the
    dollar value) into ``crm`` (currency USD); returns customer id -> sample id."""
    lines = purchases()
    ids = sorted({sample_id for sample_id, _, _ in lines}, key=int)
    report = crm.customers.import_many({"external_id": f"cdnow-{i}"} for i in ids)
    assert not report.rejected, report.rejected[:3]
    report = crm.orders.import_many(
        {"order_id": f"cdnow-{n}", "customer_external_id": f"cdnow-{sample_id}",
         "placed_at": placed, "channel": "web", "currency": "USD",
         "lines": [OrderLine("CD", 1, value)]}
        for n, (sample_id, placed, value) in enumerate(lines))
    assert not report.rejected, report.rejected[:3]
    return {crm.customers.find(external_id=f"cdnow-{i}").id: i for i in ids}
