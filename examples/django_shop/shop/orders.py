"""Placing an order: the shop's tables and ecrm in one database transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS

import ecrm
from shop.crm import crm_transaction
from shop.models import Order, OrderLine


def place_order(*, number: str, customer_ref: str, email: str, placed_at: datetime,
                lines: Sequence[ecrm.OrderLine], using: str = DEFAULT_DB_ALIAS) -> Order:
    """Save the order and record it in ecrm, with its customer found (or created) by the
    shop's user id: both land, or neither does.

    Placing the same ``number`` again (a retried request) returns the saved order and
    writes nothing; with other lines it raises ``ecrm.ConflictError``. Bad input raises
    ``ecrm.ValidationError`` naming the field, and nothing is saved.
    """
    with crm_transaction(using=using) as crm:
        # ecrm first: it refuses bad input (a naive time, an empty SKU) before the shop
        # saves anything; the order of the two writes does not matter to atomicity.
        customer = (crm.customers.find(external_id=customer_ref)
                    or crm.customers.create(external_id=customer_ref, email=email))
        recorded = crm.orders.record(order_id=number, customer_id=customer.id,
                                     placed_at=placed_at, lines=lines, channel="web")
        order, created = Order.objects.using(using).get_or_create(
            number=number, defaults={"customer_ref": customer_ref, "email": email,
                                     "placed_at": placed_at, "total": recorded.total})
        if created:
            OrderLine.objects.using(using).bulk_create(
                OrderLine(order=order, sku=line.sku, quantity=line.quantity,
                          unit_price=line.unit_price) for line in lines)
    return order
