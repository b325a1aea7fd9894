"""ecrm quick start: a few customers and orders, then each customer's summary.

    python examples/quickstart.py                      # sqlite:///shop.db
    python examples/quickstart.py "postgresql+psycopg://user:pw@localhost/shop"

Safe to run again on the same database: customers are looked up by their external id
before being created, and recording an order is idempotent by its order id.
"""

import sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import ecrm

JST = timezone(timedelta(hours=9))
CUSTOMERS = [("user-1", "hanako@example.jp", "山田 花子"),
             ("user-2", "taro@example.jp", "鈴木 太郎"),
             ("user-3", "yuki@example.jp", "佐藤 由紀")]
ORDERS = [("A-1001", "user-1", datetime(2026, 4, 1, 10, 30, tzinfo=JST), "web",
           [ecrm.OrderLine("TEA-01", 2, Decimal("1500"), "tea")]),
          ("A-1002", "user-2", datetime(2026, 4, 2, 18, 5, tzinfo=JST), "app",
           [ecrm.OrderLine("CUP-07", 1, Decimal("2800"), "tableware")]),
          ("A-1003", "user-1", datetime(2026, 4, 9, 8, 0, tzinfo=JST), "store",
           [ecrm.OrderLine("TEA-02", 3, Decimal("900"), "tea"),
            ecrm.OrderLine("CUP-07", 1, Decimal("2800"), "tableware")])]


def main(url: str) -> None:
    with ecrm.CRM.open(url, create_schema=True) as crm:
        ids = {}
        for external_id, email, name in CUSTOMERS:
            customer = (crm.customers.find(external_id=external_id)
                        or crm.customers.create(external_id=external_id, email=email, name=name))
            ids[external_id] = customer.id
        for order_id, who, placed_at, channel, lines in ORDERS:
            crm.orders.record(order_id=order_id, customer_id=ids[who], placed_at=placed_at,
                              lines=lines, channel=channel)
        for external_id, _, _ in CUSTOMERS:
            customer = crm.customers.get(ids[external_id])
            s = crm.orders.summary(customer.id)
            last = s.last_order_at.astimezone(JST).date() if s.last_order_at else "-"
            print(f"{customer.name}: {s.order_count} orders, "
                  f"{s.total_spent} {s.currency}, last order {last}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "sqlite:///shop.db")
