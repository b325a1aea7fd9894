"""The shop's own order tables."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    """An order as the shop keeps it. ``number`` is also its id in ecrm."""

    number = models.CharField(max_length=64, unique=True)
    customer_ref = models.CharField(max_length=64, help_text="the shop's user id")
    email = models.EmailField()
    placed_at = models.DateTimeField()
    total = models.DecimalField(max_digits=12, decimal_places=0)  # yen

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    """One line of an order."""

    order = models.ForeignKey(Order, related_name="lines", on_delete=models.CASCADE)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=0)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"
