"""Orders: record idempotently, cancel, refund, history and aggregates (``crm.orders``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import orders as rules
from ecrm.domain.customers import Customer
from ecrm.domain.money import check_currency, to_decimal
from ecrm.domain.orders import CustomerOrderSummary, Order, OrderLine, Refund
from ecrm.domain.validation import aware, required_text
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.importing import ImportReport


class OrderService:
    """The ``crm.orders`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def record(self, *, order_id: str, customer_id: str, placed_at: datetime,
               lines: Sequence[OrderLine], channel: str, currency: str | None = None) -> Order:
        """Record an order, idempotently by ``order_id``.

        Recording the same order id again with the same content returns the stored order
        and writes nothing; with other content it raises :class:`ecrm.ConflictError`.
        An id of a customer merged away records the order on the survivor. With a loyalty
        programme the order earns its points in the same transaction.

        :raises ValidationError: a malformed field, or no such ``customer_id``.
        """
        candidate = self.build(order_id=order_id, customer_id=customer_id, placed_at=placed_at,
                               lines=lines, channel=channel, currency=currency)
        earning = self._crm.loyalty.earning

        def work(uow: UnitOfWork) -> Order:
            # Earning points locks the customer, first (see LoyaltyService).
            customer = self.customer_of(uow, candidate, for_update=earning is not None)
            referral = None if earning is None else earning.referral_to_reward(uow, customer.id)
            order = rules.with_customer(candidate, customer.id)
            stored = uow.orders.get(order.order_id)
            if stored is not None:
                return self._replay(stored, order)
            self._crm.validate("ecrm_validate_order", order=order)
            uow.orders.add(order)
            if earning is not None:
                earning.earn_for_order(uow, order, customer)
                if referral is not None:
                    earning.reward_referral(uow, referral, order)
            self._crm.notify_after_commit(uow, "ecrm_order_recorded", order=order)
            return order

        return self._crm.transact(work, replay_on_duplicate=True)

    def build(self, *, order_id: object, customer_id: object, placed_at: object, lines: object,
              channel: object, currency: object = None) -> Order:
        """Validate an order's fields and build it, without storing anything."""
        return rules.build_order(
            order_id=order_id,
            customer_id=required_text("customer_id", customer_id, 36),
            placed_at=placed_at, lines=lines, channel=channel,
            currency=self._crm.currency if currency is None else currency,
            now=self._crm.clock.now(),
        )

    def get(self, order_id: str) -> Order:
        """The order. :raises NotFound: no such order in this tenant."""
        order = self._crm.transact(lambda uow: uow.orders.get(order_id), read_only=True)
        if order is None:
            raise NotFound("order", order_id)
        return order

    def for_customer(self, customer_id: str) -> list[Order]:
        """The customer's orders, oldest first (ties by order id)."""
        def work(uow: UnitOfWork) -> list[Order]:
            return uow.orders.for_customer(resolve_customer(uow, customer_id).id)

        return self._crm.transact(work, read_only=True)

    def summary(self, customer_id: str, *, currency: str | None = None) -> CustomerOrderSummary:
        """Order count, net spend and first/last order time of one customer, over orders
        in ``currency`` (default: the CRM's), cancelled orders left out."""
        code = check_currency("currency", currency or self._crm.currency)

        def work(uow: UnitOfWork) -> CustomerOrderSummary:
            customer = resolve_customer(uow, customer_id)
            return uow.orders.summary(customer.id, code)

        return self._crm.transact(work, read_only=True)

    def summaries(self, customer_ids: Iterable[str] | None = None, *,
                  currency: str | None = None) -> Mapping[str, CustomerOrderSummary]:
        """:meth:`summary` for many customers at once (every customer with orders when
        ``customer_ids`` is None), computed in the database on SQL backends.

        Unlike :meth:`summary` this takes ids as stored: an unknown or merged-away id gets
        an empty summary rather than an error, so one bad id cannot spoil a report."""
        code = check_currency("currency", currency or self._crm.currency)
        wanted = None if customer_ids is None else list(customer_ids)
        return self._crm.transact(lambda uow: uow.orders.summaries(wanted, code),
                                  read_only=True)

    def cancel(self, order_id: str, *, cancelled_at: datetime | None = None) -> Order:
        """Cancel an order that has no refunds; cancelling twice is a no-op."""
        at = aware("cancelled_at", cancelled_at or self._crm.clock.now())
        assert at is not None

        def work(uow: UnitOfWork) -> Order:
            order = self._locked(uow, order_id)
            cancelled = rules.cancel(order, at)
            if cancelled is not order:
                uow.orders.replace_state(cancelled)
                self._claw_back(uow, cancelled)
                self._crm.notify_after_commit(uow, "ecrm_order_cancelled", order=cancelled)
            return cancelled

        return self._crm.transact(work)

    def refund(self, order_id: str, *, refund_id: str, amount: Decimal | int | str | None = None,
               refunded_at: datetime | None = None, reason: str | None = None) -> Refund:
        """Refund part or all (``amount=None``: whatever is left) of an order, idempotently
        by ``refund_id``: the same refund again returns the stored one.

        :raises ValidationError: the amount is not positive or exceeds what is left.
        :raises ConflictError: the refund id was used with other content, or the order is
            cancelled.
        """
        def work(uow: UnitOfWork) -> Refund:
            order = self._locked(uow, order_id)
            wanted = order.total - order.refunded if amount is None else amount
            stored = uow.orders.get_refund(str(refund_id).strip())
            if stored is not None:
                return _refund_replay(stored, order_id, amount, reason)
            refund = rules.build_refund(order, refund_id=refund_id, amount=wanted,
                                        refunded_at=refunded_at or self._crm.clock.now(),
                                        reason=reason)
            refunded = rules.apply_refund(order, refund)
            uow.orders.add_refund(refund)
            uow.orders.replace_state(refunded)
            self._claw_back(uow, refunded)
            self._crm.notify_after_commit(uow, "ecrm_order_refunded", order=refunded,
                                          refund=refund)
            return refund

        return self._crm.transact(work, replay_on_duplicate=True)

    def refunds(self, order_id: str) -> list[Refund]:
        """The order's refunds, oldest first. :raises NotFound: no such order."""
        def work(uow: UnitOfWork) -> list[Refund]:
            if uow.orders.get(order_id) is None:
                raise NotFound("order", order_id)
            return uow.orders.refunds(order_id)

        return self._crm.transact(work, read_only=True)

    def import_many(self, orders: Iterable[Mapping[str, Any]], *, batch_size: int = 1000
                    ) -> ImportReport:
        """Record many orders, streaming ``orders`` in batches. Each item is a mapping of
        ``record``'s arguments (``customer_external_id`` may stand for ``customer_id``).
        Replays are skipped; bad rows are rejected with the reason. See
        :mod:`ecrm.importing`."""
        from ecrm.importing import import_orders

        return import_orders(self._crm, orders, batch_size=batch_size)

    # -- helpers ---------------------------------------------------------------------

    def customer_of(self, uow: UnitOfWork, order: Order, *, for_update: bool = False
                    ) -> Customer:
        """The order's (surviving) customer; ValidationError if none."""
        try:
            return resolve_customer(uow, order.customer_id, for_update=for_update)
        except NotFound:
            raise ValidationError("customer_id", f"no customer {order.customer_id!r}") from None

    def _replay(self, stored: Order, candidate: Order) -> Order:
        if rules.same_content(stored, candidate):
            return stored
        raise ConflictError(f"order {stored.order_id!r} was already recorded with other content")

    def _locked(self, uow: UnitOfWork, order_id: str) -> Order:
        """The order, locked; its customer locked too when points may be clawed back.
        Both are locking reads, made before any plain read (see LoyaltyService)."""
        order = uow.orders.get(order_id, for_update=True)
        if order is None:
            raise NotFound("order", order_id)
        if self._crm.loyalty.earning is not None:
            resolve_customer(uow, order.customer_id, for_update=True)
        return order

    def _claw_back(self, uow: UnitOfWork, order: Order) -> None:
        if self._crm.loyalty.earning is not None:
            self._crm.loyalty.earning.claw_back(uow, order)


def _refund_replay(stored: Refund, order_id: str, amount: object, reason: object) -> Refund:
    """A repeated refund call: the stored refund if it matches, else ConflictError."""
    same = (stored.order_id == order_id
            and (amount is None or stored.amount == to_decimal("amount", amount))
            and (reason is None or stored.reason == reason))
    if not same:
        raise ConflictError(f"refund {stored.refund_id!r} was already recorded with other "
                            "content")
    return stored
