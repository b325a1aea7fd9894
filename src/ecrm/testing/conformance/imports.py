"""Bulk import: every row inserted, skipped as a duplicate, or rejected with its reason."""

from __future__ import annotations

import io
from datetime import timedelta, timezone
from decimal import Decimal

from ecrm.crm import CRM
from ecrm.importing import read_customers_csv, read_orders_csv
from ecrm.testing.conformance.base import START, ContractBase, line, record

JST = timezone(timedelta(hours=9))

CUSTOMERS_CSV = """external_id,email,name,prefecture,city,birth_date,attributes.rank
C1,one@example.com,一郎,東京都,港区,1980-02-29,gold
C2,two@example.com,二郎,,,,
C3,bad-email,三郎,,,,
C4,one@example.com,dup email,,,,
C1,other@example.com,dup external id,,,,
C5,five@example.com,五郎,Osaka,,,
"""

ORDERS_CSV = """\
order_id,customer_external_id,placed_at,channel,currency,sku,category,quantity,unit_price
A1,C1,2026-04-01T10:00:00+09:00,web,JPY,SKU-1,books,2,1500
A1,C1,2026-04-01T10:00:00+09:00,web,JPY,SKU-2,,1,300
A2,C2,2026-04-02T11:00:00,app,JPY,SKU-1,books,1,1500
A3,C9,2026-04-03T12:00:00+09:00,web,JPY,SKU-1,books,1,1500
A4,C1,2026-04-04T12:00:00+09:00,web,JPY,SKU-1,books,x,1500
"""


class ImportContract(ContractBase):
    """Bulk import behaviour every backend must show."""

    def test_customer_import_reports_each_row(self, crm: CRM) -> None:
        report = crm.customers.import_many(read_customers_csv(io.StringIO(CUSTOMERS_CSV)),
                                           batch_size=2)
        assert (report.inserted, report.skipped, report.total) == (2, 2, 6)
        assert [(r.index, r.key, r.field) for r in report.rejected] == [
            (2, "C3", "email"), (5, "C5", "address.prefecture")]
        one = crm.customers.find(external_id="C1")
        assert one is not None and one.address is not None
        assert (one.name, one.address.city, one.attributes) == ("一郎", "港区", {"rank": "gold"})
        assert crm.customers.find(email="bad-email") is None

    def test_customer_import_skips_existing_customers(self, crm: CRM) -> None:
        crm.customers.create(external_id="C1", name="kept")
        report = crm.customers.import_many([{"external_id": "C1", "name": "new"},
                                            {"external_id": "C2"}])
        assert (report.inserted, report.skipped) == (1, 1)
        assert crm.customers.find(external_id="C1").name == "kept"

    def test_order_import_from_csv(self, crm: CRM) -> None:
        crm.customers.import_many([{"external_id": "C1"}, {"external_id": "C2"}])
        report = crm.orders.import_many(read_orders_csv(io.StringIO(ORDERS_CSV)),
                                        batch_size=2)
        assert (report.inserted, report.skipped) == (1, 0)
        assert [(r.key, r.field) for r in report.rejected] == [
            ("A2", "placed_at"), ("A3", "customer_external_id"), ("A4", "lines[0].quantity")]
        order = crm.orders.get("A1")
        assert order.total == Decimal("3300") and order.lines[1].category is None
        assert order.customer_id == crm.customers.find(external_id="C1").id

    def test_default_timezone_applies_to_naive_csv_times(self, crm: CRM) -> None:
        crm.customers.import_many([{"external_id": "C2"}])
        rows = read_orders_csv(io.StringIO(ORDERS_CSV), default_timezone=JST)
        report = crm.orders.import_many(r for r in rows if r["order_id"] == "A2")
        assert report.inserted == 1
        assert crm.orders.get("A2").placed_at.utcoffset() == timedelta(0)
        assert crm.orders.get("A2").placed_at.hour == 2  # 11:00 JST

    def test_order_import_replays_and_conflicts(self, crm: CRM) -> None:
        buyer = crm.customers.create(name="b")
        stored = record(crm, "X", buyer.id)
        rows = [
            {"order_id": "X", "customer_id": buyer.id, "placed_at": START,
             "lines": [line()], "channel": "web"},
            {"order_id": "X", "customer_id": buyer.id, "placed_at": START,
             "lines": [line(quantity=9)], "channel": "web"},
            {"order_id": "Y", "customer_id": buyer.id, "placed_at": START.isoformat(),
             "lines": [{"sku": "S", "quantity": "2", "unit_price": "10"}], "channel": "web"},
            {"order_id": "Y", "customer_id": buyer.id, "placed_at": START,
             "lines": [line("S", 2, "10")], "channel": "web"},
            {"order_id": "Z", "customer_id": buyer.id, "placed_at": START,
             "lines": [line()], "channel": "web", "coupon": "free"},
            "not a mapping",
        ]
        report = crm.orders.import_many(rows)  # type: ignore[arg-type]
        assert (report.inserted, report.skipped) == (1, 2)
        assert [(r.index, r.field) for r in report.rejected] == [
            (1, None), (4, "coupon"), (5, "row")]
        assert "already recorded with other content" in report.rejected[0].reason
        assert crm.orders.get("X") == stored
        assert crm.orders.get("Y").lines[0].quantity == 2

    def test_import_streams_any_iterable(self, crm: CRM) -> None:
        def people():
            for i in range(25):
                yield {"external_id": f"E{i}", "email": f"e{i}@example.com"}

        report = crm.customers.import_many(people(), batch_size=7)
        assert report.inserted == 25
        assert len(list(crm.customers.iterate())) == 25
