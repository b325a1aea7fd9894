"""Tenant isolation as a property: several tenants on one backend, random operations.

Three CRMs share one backend, one per tenant. A Hypothesis state machine drives them with
the same small pools of e-mails, external ids, order ids, refund ids, points keys, coupon
codes, segment names and case subjects, so every tenant keeps reusing what its neighbours
use, and every id-taking operation draws its id from *all* tenants' customers, cases and
segments, so one time in three it names another tenant's row. A plain-Python model of each
tenant's own operations says what must happen: to a tenant, a neighbour's id is unknown
(``NotFound``, or ``ValidationError`` where the operation names a customer as a field). After
every step each tenant's customers, orders, order summaries and ledger totals must equal its
model; at the end, so must every timeline, balance, case, consent, segment and coupon, the
RFM table and what segment rules over orders and consent select.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ecrm.backends.base import Backend
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.cases import TRANSITIONS, CaseStatus
from ecrm.domain.orders import OrderLine
from ecrm.errors import ConflictError, ECRMError, NotFound, ValidationError

TENANTS = 3
PLACED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
REFUND = Decimal(100)

tenants = st.integers(0, TENANTS - 1)
emails = st.none() | st.sampled_from(["same@example.com", "also@example.com"])
external_ids = st.none() | st.sampled_from(["EXT-1", "EXT-2"])
names = st.sampled_from(["Aiko", "Ben", "Chen"])
order_ids = st.sampled_from(["O-1", "O-2", "O-3"])
keys = st.sampled_from(["K-1", "K-2", "K-3"])
codes = st.sampled_from(["SAVE10", "WELCOME"])
segment_names = st.sampled_from(["vip", "newsletter"])
subjects = st.sampled_from(["Where is my parcel?", "Refund please"])
events = st.sampled_from(["ev-1", "ev-2"])
points = st.integers(1, 60)
#: Which id an operation names: one of the acting tenant's own (two times in three) or one
#: of its neighbours', chosen by index.
picks = st.tuples(st.sampled_from(["own", "own", "foreign"]), st.integers(0, 30))
Pick = tuple[str, int]


@attrs.define
class TenantModel:
    """What one tenant's own operations leave behind, in plain Python."""

    customers: dict[str, tuple[str | None, str | None, str]] = attrs.Factory(dict)
    orders: dict[str, dict[str, Any]] = attrs.Factory(dict)  # customer, quantity, state
    points: dict[str, int] = attrs.Factory(dict)
    point_keys: dict[str, tuple[str, str, int]] = attrs.Factory(dict)
    cases: dict[str, tuple[str, CaseStatus]] = attrs.Factory(dict)
    interactions: dict[str, str] = attrs.Factory(dict)  # external id -> customer
    consents: dict[str, bool] = attrs.Factory(dict)
    segments: dict[str, tuple[str, set[str]]] = attrs.Factory(dict)  # name -> id, members
    coupons: dict[str, tuple[int, dict[str, str | None]]] = attrs.Factory(dict)

    def order_total(self, order_id: str) -> Decimal:
        """The order's total before refunds: 1,000 yen a unit."""
        return Decimal(1000 * self.orders[order_id]["quantity"])

    def summaries(self) -> dict[str, tuple[int, Decimal]]:
        """Order count and net spend per customer, cancelled orders left out."""
        found: dict[str, tuple[int, Decimal]] = {}
        for order_id, order in self.orders.items():
            if order["state"] == "cancelled":
                continue
            net = self.order_total(order_id) - (REFUND if order["state"] == "refunded" else 0)
            count, spent = found.get(order["customer"], (0, Decimal(0)))
            found[order["customer"]] = (count + 1, spent + net)
        return found

    def timeline(self, customer: str) -> Counter[tuple[str, str]]:
        """The (kind, id) events the customer's timeline must hold."""
        expected: Counter[tuple[str, str]] = Counter()
        expected.update(("order_placed", order_id) for order_id, order in self.orders.items()
                        if order["customer"] == customer)
        expected.update((kind, "") for _, (who, kind, _) in self.point_keys.items()
                        if who == customer)
        expected.update(("case_opened", case_id) for case_id, (who, _) in self.cases.items()
                        if who == customer)
        expected.update(("page_view", event) for event, who in self.interactions.items()
                        if who == customer)
        return expected


def _timeline_entry(event: Any) -> tuple[str, str]:
    if event.kind == "order_placed":
        return event.kind, event.item.order_id
    if event.kind == "case_opened":
        return event.kind, event.item.id
    if event.kind == "page_view":
        return event.kind, event.item.external_id
    return event.kind, ""


class TenantIsolationMachine(RuleBasedStateMachine):
    """Drives :data:`TENANTS` CRMs on one backend (``make_backend``) against their models."""

    make_backend: ClassVar[Any]

    def __init__(self) -> None:
        super().__init__()
        backend: Backend = self.make_backend()
        self.clock = ManualClock(datetime(2026, 4, 1, tzinfo=timezone.utc))
        run = uuid.uuid4().hex[:10]
        self.crms = [CRM(backend, tenant=f"iso-{run}-{n}", clock=self.clock)
                     for n in range(TENANTS)]
        self.models = [TenantModel() for _ in range(TENANTS)]
        # Every id each tenant was handed, per kind ("customers", "cases", "segments").
        self.ids: list[dict[str, list[str]]] = [
            {"customers": [], "cases": [], "segments": []} for _ in range(TENANTS)]

    def _pick(self, t: int, kind: str, pick: Pick) -> str:
        """An id of ``kind`` that tenant ``t`` was handed, or that a neighbour was."""
        whose, index = pick
        own = self.ids[t][kind]
        theirs = [i for n, ids in enumerate(self.ids) if n != t for i in ids[kind]]
        found = theirs if (whose == "foreign" and theirs) or not own else own
        return found[index % len(found)] if found else f"never-{uuid.uuid4()}"

    # -- customers -----------------------------------------------------------------------

    @initialize()
    def seed_every_tenant(self) -> None:
        """Every tenant starts with the same names for different things: a customer of
        the same e-mail and external id, order ``O-1`` (of another size in each), points
        under key ``K-1``, coupon ``SAVE10``, segment ``vip``, a case, event ``ev-1``."""
        for t in range(TENANTS):
            self.create_customer(t, "same@example.com", "EXT-1", "Aiko")
            own = ("own", 0)
            self.record_order(t, "O-1", own, t + 1)
            self.move_points(t, own, 10 * (t + 1), "K-1", True)
            self.create_coupon(t, "SAVE10", 100)
            self.create_segment(t, "vip", [own])
            self.open_case(t, own, "Where is my parcel?")
            self.record_interaction(t, own, "ev-1")
            self.decide_consent(t, own, True)

    @rule(t=tenants, email=emails, external_id=external_ids, name=names)
    def create_customer(self, t: int, email: str | None, external_id: str | None,
                        name: str) -> None:
        """A new customer, unless the tenant has its e-mail or external id already."""
        model, crm = self.models[t], self.crms[t]
        taken = any((email and email == e) or (external_id and external_id == x)
                    for e, x, _ in model.customers.values())
        if taken:
            _refused(ConflictError, crm.customers.create, email=email,
                     external_id=external_id, name=name)
            return
        created = crm.customers.create(email=email, external_id=external_id, name=name)
        model.customers[created.id] = (email, external_id, name)
        self.ids[t]["customers"].append(created.id)

    @rule(t=tenants, who=picks, name=names)
    def update_customer(self, t: int, who: Pick, name: str) -> None:
        """Rename a customer: the tenant's own, or a neighbour's (not found)."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        if customer not in model.customers:
            _refused(NotFound, crm.customers.update, customer, name=name)
            return
        self.clock.advance(seconds=1)
        crm.customers.update(customer, name=name)
        email, external_id, _ = model.customers[customer]
        model.customers[customer] = (email, external_id, name)

    @rule(t=tenants, survivor=picks, duplicate=picks)
    def merge_across_tenants(self, t: int, survivor: Pick, duplicate: Pick) -> None:
        """A merge naming a neighbour's customer on either side finds no such customer
        (merges within a tenant are the customer contract's business)."""
        model, crm = self.models[t], self.crms[t]
        kept = self._pick(t, "customers", survivor)
        gone = self._pick(t, "customers", duplicate)
        if kept != gone and not {kept, gone} <= model.customers.keys():
            _refused(NotFound, crm.customers.merge, kept, gone)

    @rule(t=tenants, who=picks)
    def read_customer(self, t: int, who: Pick) -> None:
        """Every per-customer read of a neighbour's id says "no such customer"."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        if customer in model.customers:
            assert crm.customers.get(customer).name == model.customers[customer][2]
            return
        for read in (crm.customers.get, crm.orders.for_customer, crm.orders.summary,
                     crm.loyalty.balance, crm.cases.for_customer, crm.consent.for_customer,
                     crm.interactions.timeline):
            _refused(NotFound, read, customer)
        assert crm.orders.summaries([customer])[customer].order_count == 0

    # -- orders --------------------------------------------------------------------------

    @rule(t=tenants, order_id=order_ids, who=picks, quantity=st.integers(1, 3))
    def record_order(self, t: int, order_id: str, who: Pick, quantity: int) -> None:
        """Record (or replay) an order under a shared order id, for any tenant's customer."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)

        def call() -> Any:
            return crm.orders.record(order_id=order_id, customer_id=customer,
                                     placed_at=PLACED_AT, channel="web",
                                     lines=[OrderLine("SKU-1", quantity, Decimal(1000))])
        if customer not in model.customers:
            _refused(ValidationError, call)
        elif order_id in model.orders:
            stored = model.orders[order_id]
            if (stored["customer"], stored["quantity"]) == (customer, quantity):
                assert call().customer_id == customer
            else:
                _refused(ConflictError, call)
        else:
            assert call().customer_id == customer
            model.orders[order_id] = {"customer": customer, "quantity": quantity,
                                      "state": "placed"}

    @rule(t=tenants, order_id=order_ids)
    def cancel_order(self, t: int, order_id: str) -> None:
        """Cancel the tenant's order of a shared id, if it has one."""
        model, crm = self.models[t], self.crms[t]
        order = model.orders.get(order_id)
        if order is None:
            _refused(NotFound, crm.orders.cancel, order_id)
        elif order["state"] == "refunded":
            _refused(ConflictError, crm.orders.cancel, order_id)
        else:
            assert crm.orders.cancel(order_id).status == "cancelled"
            order["state"] = "cancelled"

    @rule(t=tenants, order_id=order_ids)
    def refund_order(self, t: int, order_id: str) -> None:
        """Refund 100 yen under the refund id ``R-<order id>`` (a replay after the first)."""
        model, crm = self.models[t], self.crms[t]
        order = model.orders.get(order_id)

        def call() -> Any:
            return crm.orders.refund(order_id, refund_id=f"R-{order_id}", amount=REFUND)
        if order is None:
            _refused(NotFound, call)
        elif order["state"] == "cancelled":
            _refused(ConflictError, call)
        else:
            assert call().amount == REFUND
            order["state"] = "refunded"

    # -- loyalty -------------------------------------------------------------------------

    @rule(t=tenants, who=picks, amount=points, key=keys, earn=st.booleans())
    def move_points(self, t: int, who: Pick, amount: int, key: str,
                    earn: bool) -> None:
        """Earn or redeem points under a shared key, for any tenant's customer."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        kind = "points_earn" if earn else "points_redeem"
        call = crm.loyalty.earn if earn else crm.loyalty.redeem
        signed = amount if earn else -amount
        if customer not in model.customers:
            _refused(ValidationError, call, customer, amount, key=key)
        elif key in model.point_keys:
            if model.point_keys[key] == (customer, kind, amount):
                assert call(customer, amount, key=key).points == signed  # a replay
            else:
                _refused(ConflictError, call, customer, amount, key=key)
        elif not earn and amount > model.points.get(customer, 0):
            _refused(ValidationError, call, customer, amount, key=key)
        else:
            self.clock.advance(seconds=1)
            assert call(customer, amount, key=key).points == signed
            model.point_keys[key] = (customer, kind, amount)
            model.points[customer] = model.points.get(customer, 0) + signed

    # -- cases and interactions ----------------------------------------------------------

    @rule(t=tenants, who=picks, subject=subjects)
    def open_case(self, t: int, who: Pick, subject: str) -> None:
        """Open a case for any tenant's customer."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        if customer not in model.customers:
            _refused(ValidationError, crm.cases.open, customer, subject=subject,
                     channel="email")
            return
        self.clock.advance(seconds=1)
        case = crm.cases.open(customer, subject=subject, channel="email")
        model.cases[case.id] = (customer, case.status)
        self.ids[t]["cases"].append(case.id)

    @rule(t=tenants, which=picks, status=st.sampled_from(list(CaseStatus)))
    def advance_case(self, t: int, which: Pick, status: CaseStatus) -> None:
        """Move any tenant's case to a status: only the tenant's own, and only legally."""
        model, crm, case_id = self.models[t], self.crms[t], self._pick(t, "cases", which)
        if case_id not in model.cases:
            _refused(NotFound, crm.cases.change_status, case_id, status)
            _refused(NotFound, crm.cases.get, case_id)
            return
        customer, current = model.cases[case_id]
        if status not in TRANSITIONS[current]:
            _refused(ConflictError, crm.cases.change_status, case_id, status)
            return
        self.clock.advance(seconds=1)
        assert crm.cases.change_status(case_id, status).status == status
        model.cases[case_id] = (customer, status)

    @rule(t=tenants, who=picks, event=events)
    def record_interaction(self, t: int, who: Pick, event: str) -> None:
        """Record (or replay) a page view under a shared event id."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)

        def call() -> Any:
            return crm.interactions.record(customer, channel="web", kind="page_view",
                                           occurred_at=PLACED_AT, external_id=event)
        if customer not in model.customers:
            _refused(ValidationError, call)
        elif event in model.interactions and model.interactions[event] != customer:
            _refused(ConflictError, call)
        else:
            assert call().customer_id == customer
            model.interactions[event] = customer

    @rule(t=tenants, who=picks, granted=st.booleans())
    def decide_consent(self, t: int, who: Pick, granted: bool) -> None:
        """Grant or withdraw e-mail consent for any tenant's customer."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        call = crm.consent.grant if granted else crm.consent.withdraw
        if customer not in model.customers:
            _refused(NotFound, call, customer, "email")
            return
        self.clock.advance(seconds=1)
        assert call(customer, "email").granted is granted
        model.consents[customer] = granted

    # -- segments and coupons ------------------------------------------------------------

    @rule(t=tenants, name=segment_names, members=st.lists(picks, max_size=2))
    def create_segment(self, t: int, name: str, members: list[Pick]) -> None:
        """A static segment of a shared name, with any tenants' customers."""
        model, crm = self.models[t], self.crms[t]
        ids = sorted({self._pick(t, "customers", who) for who in members})
        unknown = any(customer not in model.customers for customer in ids)
        if name in model.segments or unknown:
            _refused(ConflictError if not unknown else (ConflictError, ValidationError),
                     crm.segments.create, name, customer_ids=ids)
            return
        segment = crm.segments.create(name, customer_ids=ids)
        model.segments[name] = (segment.id, set(ids))
        self.ids[t]["segments"].append(segment.id)

    @rule(t=tenants, which=picks, who=picks)
    def add_to_segment(self, t: int, which: Pick, who: Pick) -> None:
        """Add any tenant's customer to any tenant's segment."""
        model, crm, customer = self.models[t], self.crms[t], self._pick(t, "customers", who)
        segment = self._pick(t, "segments", which)
        mine = {sid: name for name, (sid, _) in model.segments.items()}
        if segment not in mine:
            _refused(NotFound, crm.segments.add, segment, [customer])
        elif customer not in model.customers:
            _refused(ValidationError, crm.segments.add, segment, [customer])
        else:
            crm.segments.add(segment, [customer])
            model.segments[mine[segment]][1].add(customer)

    @rule(t=tenants, code=codes, amount=st.sampled_from([100, 200]))
    def create_coupon(self, t: int, code: str, amount: int) -> None:
        """Create (or replay) a coupon of a shared code."""
        model, crm = self.models[t], self.crms[t]
        if code in model.coupons and model.coupons[code][0] != amount:
            _refused(ConflictError, crm.coupons.create, code=code, amount=amount)
            return
        assert crm.coupons.create(code=code, amount=amount).code == code
        model.coupons.setdefault(code, (amount, {}))

    @rule(t=tenants, code=codes, order_id=order_ids, who=st.none() | picks)
    def redeem_coupon(self, t: int, code: str, order_id: str,
                      who: Pick | None) -> None:
        """Redeem a shared code on a shared order id, for any tenant's customer or a guest."""
        model, crm = self.models[t], self.crms[t]
        customer = None if who is None else self._pick(t, "customers", who)

        def call() -> Any:
            return crm.coupons.redeem(code, order_id=order_id, order_total=1000,
                                      customer_id=customer)
        coupon = model.coupons.get(code)
        if coupon is None or (customer is not None and customer not in model.customers):
            _refused(ValidationError, call)
        elif order_id in coupon[1] and coupon[1][order_id] != customer:
            _refused(ConflictError, call)
        else:
            assert call().discount == coupon[0]
            coupon[1][order_id] = customer

    @rule(t=tenants, code=codes)
    def read_coupon(self, t: int, code: str) -> None:
        """Read a shared code: the tenant's own coupon, or not found."""
        model, crm = self.models[t], self.crms[t]
        if code not in model.coupons:
            _refused(NotFound, crm.coupons.get, code)
            _refused(NotFound, crm.coupons.redemptions, code)
            return
        amount, used = model.coupons[code]
        coupon = crm.coupons.get(code)
        assert (coupon.amount, coupon.uses) == (Decimal(amount), len(used))

    # -- what every tenant reads ---------------------------------------------------------

    @invariant()
    def every_tenant_reads_its_own_model(self) -> None:
        """Cheap reads of every tenant after every step."""
        for crm, model in zip(self.crms, self.models, strict=True):
            listed = crm.customers.list(limit=1000).items
            _same(crm, "customers", {c.id: (c.email, c.external_id, c.name) for c in listed},
                  model.customers)
            _same(crm, "order summaries", {cid: (s.order_count, s.total_spent)
                                           for cid, s in crm.orders.summaries().items()
                                           if s.order_count}, model.summaries())
            issued = sum(n for _, kind, n in model.point_keys.values() if kind == "points_earn")
            totals = crm.loyalty.totals()
            _same(crm, "ledger totals", (totals.issued, totals.outstanding),
                  (issued, sum(model.points.values())))

    def teardown(self) -> None:
        """Everything else every tenant holds, once at the end of each run."""
        for crm, model in zip(self.crms, self.models, strict=True):
            self._check_everything(crm, model)

    @staticmethod
    def _check_everything(crm: CRM, model: TenantModel) -> None:
        for order_id in ["O-1", "O-2", "O-3"]:
            if order_id in model.orders:
                order = crm.orders.get(order_id)
                assert (order.customer_id, order.total) == (
                    model.orders[order_id]["customer"], model.order_total(order_id))
            else:
                _refused(NotFound, crm.orders.get, order_id)
        for customer in model.customers:
            timeline = crm.interactions.timeline(customer, limit=500).events
            assert Counter(map(_timeline_entry, timeline)) == model.timeline(customer)
            assert crm.loyalty.balance(customer).total == model.points.get(customer, 0)
            assert {c.id: c.status for c in crm.cases.for_customer(customer)} == {
                case_id: status for case_id, (who, status) in model.cases.items()
                if who == customer}
            assert {c.channel: c.granted for c in crm.consent.for_customer(customer)} == (
                {"email": model.consents[customer]} if customer in model.consents else {})
        buyers = model.summaries()
        assert {row.customer_id: (row.frequency, row.monetary)
                for row in crm.analytics.rfm().rows} == buyers
        assert set(crm.segments.evaluate("orders.count >= 1")) == set(buyers)
        assert set(crm.segments.evaluate('consent("email")')) == {
            customer for customer, granted in model.consents.items() if granted}
        assert {s.name: s.id for s in crm.segments.all()} == {
            name: sid for name, (sid, _) in model.segments.items()}
        for sid, members in model.segments.values():
            assert {m.customer_id for m in crm.segments.members(sid)} == members
        for code, (_, used) in model.coupons.items():
            assert {r.order_id: r.customer_id for r in crm.coupons.redemptions(code)} == used


def _same(crm: CRM, what: str, read: object, expected: object) -> None:
    """What tenant ``crm`` read must be what its model expects."""
    assert read == expected, f"tenant {crm.tenant}: {what} read {read!r}, expected {expected!r}"


def _refused(error: type[ECRMError] | tuple[type[ECRMError], ...], call: Any, *args: Any,
             **kwargs: Any) -> None:
    """``call`` must raise ``error``."""
    with pytest.raises(error):
        call(*args, **kwargs)


class TenantIsolationContract:
    """Tenant isolation as a property: see :mod:`ecrm.testing.conformance.tenant_isolation`."""

    def test_tenant_isolation_under_random_work_in_three_tenants(self, backend: Backend) -> None:
        machine: Any = type("BoundTenantIsolationMachine", (TenantIsolationMachine,),
                            {"make_backend": staticmethod(lambda: backend)})
        run_state_machine_as_test(machine, settings=settings(
            max_examples=15, stateful_step_count=20, deadline=None,
            suppress_health_check=[HealthCheck.too_slow,
                                   HealthCheck.function_scoped_fixture]))
