"""A workload that calls every public operation once, for statement-level audits."""

from __future__ import annotations

from datetime import datetime, timezone

from ecrm import CRM, OrderLine
from ecrm.importing import read_orders_csv

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
ORDERS_CSV = """\
order_id,customer_external_id,placed_at,channel,currency,sku,category,quantity,unit_price
W1,E1,2026-04-01T10:00:00+09:00,web,JPY,SKU-1,books,2,1500
"""


def exercise_everything(crm: CRM) -> None:
    """Create, read, update, merge, list, import, refund and cancel in one tenant."""
    import io

    account = crm.accounts.create(name="Acme", external_id="A1")
    crm.accounts.get(account.id)
    crm.accounts.find(external_id="A1")
    crm.accounts.update(account.id, name="Acme KK")
    one = crm.customers.create(email="one@example.com", external_id="E1", account_id=account.id)
    two = crm.customers.create(email="two@example.com")
    crm.customers.get(one.id)
    crm.customers.find(email="one@example.com")
    crm.customers.find(external_id="E1")
    crm.customers.update(one.id, name="One")
    crm.customers.list(limit=1)
    crm.customers.list(after=one.id, account_id=account.id)
    crm.customers.import_many([{"external_id": "E9", "email": "nine@example.com"}])
    crm.orders.record(order_id="O1", customer_id=two.id, placed_at=WHEN,
                      lines=[OrderLine("S", 2, 500)], channel="web")
    crm.orders.import_many(read_orders_csv(io.StringIO(ORDERS_CSV)))
    crm.orders.refund("O1", refund_id="R1", amount=100)
    crm.orders.refunds("O1")
    crm.orders.cancel("W1")
    crm.customers.merge(one.id, two.id)
    crm.customers.get(two.id)
    crm.customers.merges(one.id)
    crm.orders.get("O1")
    crm.orders.for_customer(one.id)
    crm.orders.summary(one.id)
    crm.orders.summaries()
    crm.orders.summaries([one.id])
    earned = crm.loyalty.earn(one.id, 100, key="E1", expires_at=datetime(2099, 1, 1,
                                                                         tzinfo=timezone.utc))
    spent = crm.loyalty.redeem(one.id, 30, key="R1")
    crm.loyalty.redeem(one.id, 30, key="R1")  # a replay
    crm.loyalty.adjust(one.id, 5, key="A1", reason="goodwill")
    crm.loyalty.reverse(spent.id, key="V1")
    crm.loyalty.expire_due()
    crm.loyalty.balance(one.id)
    crm.loyalty.history(one.id)
    crm.loyalty.lots(one.id)
    crm.loyalty.totals()
    assert earned.points == 100
    exercise_coupons(crm, one.id)


def exercise_coupons(crm: CRM, customer_id: str) -> None:
    """Every public coupon operation once (``customer_id`` names a live customer)."""
    crm.coupons.create(code="W-ONE", percent=10, max_uses=5, per_customer_limit=2,
                       issued_only=True, budget=1000)
    crm.coupons.create(code="W-ONE", percent=10, max_uses=5, per_customer_limit=2,
                       issued_only=True, budget=1000)  # a replay
    crm.coupons.create(amount=100)
    crm.coupons.generate(3, prefix="W-", amount=100)
    crm.coupons.import_codes(["W-IMP-1", "W-IMP-2"], amount=200)
    crm.coupons.get("W-ONE")
    crm.coupons.issue("W-ONE", [customer_id])
    crm.coupons.issued_to(customer_id)
    crm.coupons.redeem("W-ONE", order_id="O1", order_total=1000, customer_id=customer_id)
    crm.coupons.redeem("W-ONE", order_id="O1", order_total=1000, customer_id=customer_id)
    crm.coupons.restore("W-ONE", order_id="O1")
    crm.coupons.redemptions("W-ONE")
