"""Fixtures and helpers every contract shares."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

import attrs
import pytest

from ecrm.backends.base import Backend, UnitOfWork
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.orders import Order, OrderLine
from ecrm.hookspecs import hookimpl

JST = timezone(timedelta(hours=9))
START = datetime(2026, 4, 1, 9, 0, tzinfo=JST)

Repository = TypeVar("Repository")
T = TypeVar("T")


class Recorder:
    """A plugin that writes down every notification it receives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        """The hook names received, in order."""
        return [name for name, _ in self.events]

    def _note(self, name: str, **kwargs: Any) -> None:
        self.events.append((name, kwargs))

    @hookimpl
    def ecrm_customer_created(self, crm: CRM, customer: Any) -> None:
        self._note("customer_created", customer=customer)

    @hookimpl
    def ecrm_customer_updated(self, crm: CRM, customer: Any, changes: Any) -> None:
        self._note("customer_updated", customer=customer, changes=changes)

    @hookimpl
    def ecrm_customers_merged(self, crm: CRM, survivor: Any, duplicate_id: str) -> None:
        self._note("customers_merged", survivor=survivor, duplicate_id=duplicate_id)

    @hookimpl
    def ecrm_customer_erased(self, crm: CRM, redaction: Any) -> None:
        self._note("customer_erased", redaction=redaction)

    @hookimpl
    def ecrm_order_recorded(self, crm: CRM, order: Order) -> None:
        self._note("order_recorded", order=order)

    @hookimpl
    def ecrm_order_refunded(self, crm: CRM, order: Order, refund: Any) -> None:
        self._note("order_refunded", order=order, refund=refund)

    @hookimpl
    def ecrm_order_cancelled(self, crm: CRM, order: Order) -> None:
        self._note("order_cancelled", order=order)

    @hookimpl
    def ecrm_points_changed(self, crm: CRM, transaction: Any) -> None:
        self._note("points_changed", transaction=transaction)

    @hookimpl
    def ecrm_tier_changed(self, crm: CRM, change: Any) -> None:
        self._note("tier_changed", change=change)

    @hookimpl
    def ecrm_referral_rewarded(self, crm: CRM, referral: Any) -> None:
        self._note("referral_rewarded", referral=referral)

    @hookimpl
    def ecrm_coupon_redeemed(self, crm: CRM, redemption: Any) -> None:
        self._note("coupon_redeemed", redemption=redemption)

    @hookimpl
    def ecrm_coupon_use_restored(self, crm: CRM, redemption: Any) -> None:
        self._note("coupon_use_restored", redemption=redemption)

    @hookimpl
    def ecrm_interaction_recorded(self, crm: CRM, interaction: Any) -> None:
        self._note("interaction_recorded", interaction=interaction)

    @hookimpl
    def ecrm_case_opened(self, crm: CRM, case: Any) -> None:
        self._note("case_opened", case=case)

    @hookimpl
    def ecrm_case_message_added(self, crm: CRM, case: Any, message: Any) -> None:
        self._note("case_message_added", case=case, message=message)

    @hookimpl
    def ecrm_case_status_changed(self, crm: CRM, case: Any, change: Any) -> None:
        self._note("case_status_changed", case=case, change=change)

    @hookimpl
    def ecrm_sla_breached(self, crm: CRM, case: Any, breach: Any) -> None:
        self._note("sla_breached", case=case, breach=breach)

    @hookimpl
    def ecrm_survey_requested(self, crm: CRM, case: Any, survey: Any) -> None:
        self._note("survey_requested", case=case, survey=survey)

    @hookimpl
    def ecrm_survey_answered(self, crm: CRM, case: Any, survey: Any) -> None:
        self._note("survey_answered", case=case, survey=survey)

    @hookimpl
    def ecrm_consent_changed(self, crm: CRM, consent: Any, previous: Any) -> None:
        self._note("consent_changed", consent=consent, previous=previous)

    @hookimpl
    def ecrm_segment_membership_changed(self, crm: CRM, segment: Any, entered: Any,
                                        left: Any) -> None:
        self._note("segment_membership_changed", segment=segment, entered=entered,
                   left=left)

    @hookimpl
    def ecrm_message_sent(self, crm: CRM, message: Any) -> None:
        self._note("message_sent", message=message)

    @hookimpl
    def ecrm_message_dead(self, crm: CRM, message: Any) -> None:
        self._note("message_dead", message=message)


class ContractBase:
    """Fixtures: ``crm`` is a CRM on the backend under test, in a tenant of its own, with a
    manual clock and a :class:`Recorder` plugin (``recorder``)."""

    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - overridden by every backend's tests
        raise NotImplementedError("a backend's test class must provide a `backend` fixture")

    @pytest.fixture
    def clock(self) -> ManualClock:
        return ManualClock(datetime(2026, 4, 1, tzinfo=timezone.utc))

    @pytest.fixture
    def recorder(self) -> Recorder:
        return Recorder()

    @pytest.fixture
    def tenant(self) -> str:
        return f"t-{uuid.uuid4().hex[:12]}"

    @pytest.fixture
    def crm(self, backend: Backend, tenant: str, clock: ManualClock, recorder: Recorder) -> CRM:
        return CRM(backend, tenant=tenant, clock=clock, plugins=[recorder])


def line(sku: str = "SKU-1", quantity: int = 1, price: str = "1000",
         category: str | None = None) -> OrderLine:
    """An order line priced in yen."""
    return OrderLine(sku, quantity, Decimal(price), category)


def record(crm: CRM, order_id: str, customer_id: str, *, days: int = 0,
           lines: list[OrderLine] | None = None, channel: str = "web",
           currency: str | None = None) -> Order:
    """Record an order placed ``days`` after :data:`START`."""
    return crm.orders.record(order_id=order_id, customer_id=customer_id,
                             placed_at=START + timedelta(days=days),
                             lines=lines or [line()], channel=channel, currency=currency)


def snapshot(crm: CRM) -> dict[str, Any]:
    """Everything the tenant holds, for "nothing was written" checks."""
    customers = list(crm.customers.iterate())
    orders = {c.id: crm.orders.for_customer(c.id) for c in customers}
    refunds = {o.order_id: crm.orders.refunds(o.order_id)
               for found in orders.values() for o in found}
    merges = {c.id: crm.customers.merges(c.id) for c in customers}
    timelines = {c.id: [(e.source, e.id, e.item) for e in crm.interactions.timeline(
        c.id, limit=500).events] for c in customers}
    return {"customers": customers, "orders": orders, "refunds": refunds, "merges": merges,
            "timelines": timelines}


@attrs.define
class RepositoryTenant(Generic[Repository]):
    """One tenant of a backend, driven through one repository of its units of work (the
    attribute ``repository`` names, e.g. ``"segments"``), for contracts and tests that
    go below the services."""

    repository: ClassVar[str]
    backend: Backend
    tenant: str

    @contextmanager
    def unit(self) -> Iterator[UnitOfWork]:
        """A unit of work of this tenant."""
        with self.backend.unit_of_work(self.tenant) as uow:
            yield uow

    def write(self, work: Callable[[Repository], Any]) -> None:
        """Run ``work`` on the repository in a unit of its own."""
        with self.unit() as uow:
            work(getattr(uow, self.repository))

    def read(self, work: Callable[[Repository], T]) -> T:
        """What ``work`` returns from the repository, in a read-only unit of its own."""
        with self.backend.unit_of_work(self.tenant, read_only=True) as uow:
            return work(getattr(uow, self.repository))
