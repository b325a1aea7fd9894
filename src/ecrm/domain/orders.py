"""Orders, their lines and refunds: value classes and the rules of recording them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from ecrm.domain import money
from ecrm.domain import validation as check
from ecrm.errors import ConflictError, ValidationError

MAX_LINES = 1000


class OrderStatus(str, enum.Enum):
    """Where an order stands. Cancelled orders count for nothing in spend figures."""

    PLACED = "placed"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


@attrs.frozen
class OrderLine:
    """One line of an order: ``quantity`` units of ``sku`` at ``unit_price`` each."""

    sku: str
    quantity: int
    unit_price: Decimal
    category: str | None = None

    @property
    def amount(self) -> Decimal:
        """``quantity * unit_price``."""
        return self.unit_price * self.quantity


@attrs.frozen
class Order:
    """A recorded order. ``order_id`` is the host's; ``total`` is the sum of the lines and
    ``refunded`` the sum of its refunds, both in ``currency``."""

    order_id: str
    customer_id: str
    placed_at: datetime
    channel: str
    currency: str
    lines: tuple[OrderLine, ...]
    created_at: datetime
    status: OrderStatus = OrderStatus.PLACED
    total: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    cancelled_at: datetime | None = None

    @property
    def net_amount(self) -> Decimal:
        """What the customer finally paid: 0 when cancelled, else total less refunds."""
        if self.status is OrderStatus.CANCELLED:
            return Decimal(0)
        return self.total - self.refunded


@attrs.frozen
class Refund:
    """Money given back on an order; ``refund_id`` is the host's key for idempotency."""

    refund_id: str
    order_id: str
    amount: Decimal
    refunded_at: datetime
    reason: str | None = None


@attrs.frozen
class CustomerOrderSummary:
    """The aggregates later features rely on, over one customer's orders in one currency,
    cancelled orders left out. ``total_spent`` is net of refunds."""

    customer_id: str
    currency: str
    order_count: int
    total_spent: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None


@attrs.frozen
class CustomerTotals:
    """One customer's orders over a period, in one currency, cancelled ones left out:
    how many, and their net amount (``revenue``, refunds deducted)."""

    customer_id: str
    orders: int
    revenue: Decimal


def build_order(*, order_id: object, customer_id: str, placed_at: object, lines: object,
                channel: object, currency: object, now: datetime) -> Order:
    """Validate the parts of an order and build it, lines normalised to the currency."""
    code = money.check_currency("currency", currency)
    clean_lines = _clean_lines(lines, code)
    total = sum((line.amount for line in clean_lines), Decimal(0))
    return Order(
        order_id=check.required_text("order_id", order_id, 128),
        customer_id=customer_id,
        placed_at=check.aware("placed_at", placed_at),  # type: ignore[arg-type]
        channel=check.identifier("channel", channel),
        currency=code,
        lines=clean_lines,
        created_at=now,
        total=money.quantize(total, code),
        refunded=money.from_minor(0, code),
    )


def with_customer(order: Order, customer_id: str) -> Order:
    """``order`` recorded on ``customer_id`` (the order itself when it already is)."""
    if order.customer_id == customer_id:
        return order
    return Order(order.order_id, customer_id, order.placed_at, order.channel, order.currency,
                 order.lines, order.created_at, order.status, order.total, order.refunded,
                 order.cancelled_at)


def same_content(stored: Order, candidate: Order) -> bool:
    """True when a replayed ``candidate`` describes the order already ``stored``."""
    return (
        stored.customer_id == candidate.customer_id
        and stored.placed_at == candidate.placed_at
        and stored.channel == candidate.channel
        and stored.currency == candidate.currency
        and stored.lines == candidate.lines
    )


def build_refund(order: Order, *, refund_id: object, amount: object, refunded_at: object,
                 reason: object) -> Refund:
    """Validate a refund against its order: the order is not cancelled (checked first:
    no amount could fix that), and the amount is positive and within what is left."""
    if order.status is OrderStatus.CANCELLED:
        raise ConflictError(f"order {order.order_id!r} is cancelled; nothing to refund")
    value = money.to_decimal("amount", amount)
    money.to_minor("amount", value, order.currency)
    if value <= 0:
        raise ValidationError("amount", f"must be greater than zero, got {value}")
    left = order.total - order.refunded
    if value > left:
        raise ValidationError("amount", f"{value} exceeds the {left} {order.currency} "
                                        f"still refundable on order {order.order_id!r}")
    return Refund(
        refund_id=check.required_text("refund_id", refund_id, 128),
        order_id=order.order_id,
        amount=money.quantize(value, order.currency),
        refunded_at=check.aware("refunded_at", refunded_at),  # type: ignore[arg-type]
        reason=check.text("reason", reason, 500),
    )


def apply_refund(order: Order, refund: Refund) -> Order:
    """The order after ``refund``: refunded total raised, status moved on."""
    refunded = order.refunded + refund.amount
    status = OrderStatus.REFUNDED if refunded == order.total else OrderStatus.PARTIALLY_REFUNDED
    return attrs.evolve(order, refunded=refunded, status=status)


def cancel(order: Order, at: datetime) -> Order:
    """The order cancelled at ``at``. Refunded orders cannot be cancelled."""
    if order.status is OrderStatus.CANCELLED:
        return order
    if order.status is not OrderStatus.PLACED:
        raise ConflictError(f"order {order.order_id!r} has refunds; refund the rest instead")
    return attrs.evolve(order, status=OrderStatus.CANCELLED, cancelled_at=at)


def summarize(customer_id: str, currency: str, orders: Iterable[Order]) -> CustomerOrderSummary:
    """Compute :class:`CustomerOrderSummary` in plain Python (the memory backend's way)."""
    counted = [o for o in orders
               if o.currency == currency and o.status is not OrderStatus.CANCELLED]
    times = [o.placed_at for o in counted]
    spent = sum((o.net_amount for o in counted), Decimal(0))
    return CustomerOrderSummary(
        customer_id=customer_id,
        currency=currency,
        order_count=len(counted),
        total_spent=money.quantize(spent, currency),
        first_order_at=min(times, default=None),
        last_order_at=max(times, default=None),
    )


def _clean_lines(lines: object, currency: str) -> tuple[OrderLine, ...]:
    if isinstance(lines, (str, bytes)) or not isinstance(lines, (Sequence, Iterable)):
        raise ValidationError("lines", "expected a sequence of OrderLine")
    items = list(lines)
    if not items:
        raise ValidationError("lines", "an order needs at least one line")
    if len(items) > MAX_LINES:
        raise ValidationError("lines", f"{len(items)} lines; at most {MAX_LINES}")
    return tuple([_clean_line(index, line, currency) for index, line in enumerate(items)])


def _clean_line(index: int, line: object, currency: str) -> OrderLine:
    """Line ``index`` checked and normalised; errors name ``lines[index]`` or its field."""
    if isinstance(line, dict):
        try:
            line = OrderLine(**line)
        except TypeError as exc:
            raise ValidationError(f"lines[{index}]", f"not an order line: {exc}") from None
    if not isinstance(line, OrderLine):
        raise ValidationError(f"lines[{index}]",
                              f"expected an OrderLine, got {type(line).__name__}")
    try:
        return _checked_line(line, currency)
    except ValidationError as error:  # name the line only when there is an error to report
        raise ValidationError(f"lines[{index}].{error.field}", error.message) from None


def _checked_line(line: OrderLine, currency: str) -> OrderLine:
    """``line`` with every field checked; errors name the bare field (``unit_price``)."""
    price = money.to_decimal("unit_price", line.unit_price)
    if price < 0:
        raise ValidationError("unit_price", f"must not be negative, got {price}")
    minor = money.to_minor("unit_price", price, currency)
    return OrderLine(
        sku=check.required_text("sku", line.sku, 64),
        quantity=check.positive_int("quantity", line.quantity),
        unit_price=money.from_minor(minor, currency),
        category=check.text("category", line.category, 64),
    )
