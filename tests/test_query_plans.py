"""On SQLite, the per-customer reads of points operations use an index on the customer
rather than walking every row of the tenant; segment rules read a customer's orders
through the customer's order index, once for all their order conditions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from ecrm import CRM, OrderLine
from ecrm.backends.sql import SQLBackend
from ecrm.clock import ManualClock
from ecrm.domain.cases import Case, CaseMessage, CaseStatus, CaseType, MessageKind, Priority
from ecrm.domain.segment_fields import FieldRegistry, RuleContext
from ecrm.domain.segment_text import parse
from ecrm.domain.timeline import Before
from ecrm.testing.conformance.export import seed
from tests.workload import exercise_segment_repository, read_cases, read_segments

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_timeline_reads_search_by_customer(sqlite_backend: SQLBackend) -> None:
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    customer = crm.customers.create().id
    crm.interactions.import_many({"customer_id": crm.customers.create().id if n % 2 else
                                  customer, "channel": "web", "kind": "page_view"}
                                 for n in range(20))
    crm.loyalty.earn(customer, 10, key="k")
    selects = _selects_of(sqlite_backend, lambda: [
        crm.interactions.timeline(customer, limit=3, after=crm.interactions.timeline(
            customer, limit=3).next_cursor),
        crm.interactions.timeline(customer, channels=["web"], kinds=["page_view"])])
    assert any("ecrm_interactions" in s for s, _ in selects)
    _assert_no_walks(sqlite_backend, selects)


def test_points_reads_search_by_customer(sqlite_backend: SQLBackend) -> None:
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    others = [crm.customers.create().id for _ in range(3)]
    for n, other in enumerate(others):
        crm.loyalty.earn(other, 10, key=f"other-{n}")
    customer = crm.customers.create().id
    selects = _selects_of(sqlite_backend, lambda: [
        crm.loyalty.earn(customer, 50, key="e1"),
        crm.loyalty.earn(customer, 30, key="e2", expires_at=crm.clock.now() + timedelta(1)),
        crm.loyalty.redeem(customer, 40, key="r1"),
        crm.loyalty.balance(customer),
        crm.loyalty.history(customer),
        crm.loyalty.lots(customer)])
    assert any("ecrm_point_lots" in s for s, _ in selects)
    _assert_no_walks(sqlite_backend, selects)


def test_order_reads_search_by_customer(sqlite_backend: SQLBackend) -> None:
    """A customer's orders and their lines are read through the customer's order index
    and the lines' key, not by walking every order line of the tenant (which the tier
    measure and the loyalty programme did once per order)."""
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    customers = [crm.customers.create().id for _ in range(3)]
    crm.orders.import_many({"order_id": f"P-{n}", "customer_id": customers[n % 3],
                            "placed_at": WHEN, "channel": "web",
                            "lines": [OrderLine("TEA", 1, 1000), OrderLine("CUP", 2, 500)]}
                           for n in range(12))
    selects = _selects_of(sqlite_backend, lambda: [
        crm.orders.for_customer(customers[0]), crm.orders.summary(customers[1])])
    assert sum("ecrm_order_lines" in s for s, _ in selects) == 1
    _assert_no_walks(sqlite_backend, selects)
    assert [len(o.lines) for o in crm.orders.for_customer(customers[0])] == [2, 2, 2, 2]


def test_audit_reads_search_by_customer_or_subject(sqlite_backend: SQLBackend) -> None:
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    for n in range(5):
        crm.customers.update(crm.customers.create().id, name=f"other {n}")
    customer, duplicate = crm.customers.create().id, crm.customers.create().id
    crm.customers.merge(customer, duplicate)
    selects = _selects_of(sqlite_backend, lambda: [
        crm.audit.entries(customer_id=customer),
        crm.audit.entries(subject=("customer", customer), limit=1),
        crm.audit.for_customer(duplicate)])
    assert sum("ecrm_audit_log" in s for s, _ in selects) == 4  # a family: one per id
    _assert_no_walks(sqlite_backend, selects)


def test_consent_reads_search_by_customer_or_channel(sqlite_backend: SQLBackend) -> None:
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    others = [crm.customers.create().id for _ in range(3)]
    for other in others:
        crm.consent.grant(other, "email", at=WHEN)
    customer, duplicate = crm.customers.create().id, crm.customers.create().id

    def audience() -> object:
        with sqlite_backend.unit_of_work(crm.tenant, read_only=True) as uow:
            return uow.consents.granted_ids("email", None), uow.consents.granted_ids(
                "email", [customer, *others])

    selects = _selects_of(sqlite_backend, lambda: [
        crm.consent.grant(customer, "email", at=WHEN),
        crm.consent.withdraw(customer, "email", at=WHEN - timedelta(days=1)),
        crm.consent.grant(duplicate, "sms", at=WHEN),
        crm.customers.merge(customer, duplicate),
        crm.consent.get(customer, "sms"),
        crm.consent.for_customer(customer),
        crm.consent.history(customer),
        audience()])
    assert sum("ecrm_consents" in s for s, _ in selects) >= 6
    _assert_no_walks(sqlite_backend, selects)


def _selects_of(backend: SQLBackend, work: Callable[[], object]) -> list[tuple[str, object]]:
    """The SELECT statements ``work`` sends, with their parameters."""
    selects: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    event.listen(backend.engine, "before_cursor_execute", capture)
    try:
        work()
    finally:
        event.remove(backend.engine, "before_cursor_execute", capture)
    return selects


def _assert_no_walks(backend: SQLBackend, selects: list[tuple[str, object]]) -> None:
    """No statement scans a table or walks a whole tenant."""
    with backend.engine.connect() as conn:
        for statement, parameters in selects:
            plan = [row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]
            walks = [step for step in plan if step.startswith("SCAN")
                     or step.endswith("(tenant_id=?)")]
            assert not walks, (statement, plan)


TIMELINE_INDEX = "ix_ecrm_interactions_tenant_id_customer_id_occurred_at_id"


@pytest.mark.parametrize("fixture", ["postgres_backend", "mysql_backend"])
def test_server_timelines_walk_the_customer_index_backwards(fixture: str,
                                                             request: pytest.FixtureRequest
                                                             ) -> None:
    """The timeline's read follows the customer's index from the cursor, newest first,
    with no sort: PostgreSQL can (on a handful of rows its planner prefers anything, so
    sequential scans and sorts are switched off to see whether such a plan exists; on a
    real store it chose it by itself, see docs/performance.md), and MariaDB is told to
    (FORCE INDEX)."""
    backend: SQLBackend = request.getfixturevalue(fixture)
    crm = CRM(backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    customer = crm.customers.create().id
    crm.interactions.import_many({"customer_id": customer, "channel": "web",
                                  "kind": "page_view"} for _ in range(5))
    selects = _selects_of(backend, lambda: crm.interactions.timeline(
        customer, limit=2, after=crm.interactions.timeline(customer, limit=2).next_cursor))
    reads = [(s, p, TIMELINE_INDEX) for s, p in selects if "FROM ecrm_interactions" in s]
    assert len(reads) == 2
    _assert_index_walks(backend, fixture, reads)


CASE_TIMELINE_INDEXES = {"ecrm_cases": "ix_ecrm_cases_tenant_id_customer_id_opened_at_id",
                         "ecrm_case_messages":
                             "ix_ecrm_case_messages_tenant_id_customer_id_occurred_at_id"}


def _case_history(backend: SQLBackend, customers: int = 3) -> tuple[str, list[str]]:
    """A new tenant whose customers each have cases with messages; the tenant and the
    customers' ids."""
    tenant = f"plans-{uuid.uuid4().hex[:8]}"
    crm = CRM(backend, tenant=tenant)
    ids = [crm.customers.create().id for _ in range(customers)]
    with backend.unit_of_work(tenant) as uow:
        for n in range(12):
            customer = ids[n % customers]
            case = Case(id=f"case-{n:02d}", customer_id=customer, type=CaseType.INQUIRY,
                        subject="s", priority=Priority.NORMAL, status=CaseStatus.OPEN,
                        channel="email", opened_at=WHEN + timedelta(hours=n),
                        updated_at=WHEN, order_ids=(f"o-{n}",))
            uow.cases.add(case)
            uow.cases.add_message(CaseMessage(
                id=f"msg-{n:02d}", case_id=case.id, customer_id=customer,
                kind=MessageKind.INBOUND, channel="email", body="b",
                occurred_at=case.opened_at, recorded_at=case.opened_at,
                external_id=f"ext-{n}"))
    return tenant, ids


def _page_case_timelines(backend: SQLBackend, tenant: str, customer: str) -> None:
    """Two pages of each case timeline, the second below the first's last row."""
    with backend.unit_of_work(tenant, read_only=True) as uow:
        cases = uow.cases.case_timeline(customer, before=None, limit=2, channels=None)
        uow.cases.case_timeline(customer, before=Before(cases[-1].opened_at, cases[-1].id),
                                limit=2, channels=["email"])
        messages = uow.cases.message_timeline(customer, before=None, limit=2,
                                              channels=None, kinds=None)
        last = messages[-1]
        uow.cases.message_timeline(customer, before=Before(last.occurred_at, last.id),
                                   limit=2, channels=["email"], kinds=["inbound"])


def test_case_reads_search_by_an_index(sqlite_backend: SQLBackend) -> None:
    """Every read of the case repository (timelines included) searches an index."""
    tenant, customers = _case_history(sqlite_backend)

    def reads() -> None:
        _page_case_timelines(sqlite_backend, tenant, customers[0])
        with sqlite_backend.unit_of_work(tenant, read_only=True) as uow:
            read_cases(uow.cases, customers[0], "case-00")

    selects = _selects_of(sqlite_backend, reads)
    for table in ("ecrm_cases", "ecrm_case_messages", "ecrm_case_status_changes",
                  "ecrm_sla_breaches", "ecrm_case_surveys", "ecrm_case_orders"):
        assert any(f"FROM {table}" in s for s, _ in selects), table
    _assert_no_walks(sqlite_backend, selects)


def test_segment_reads_search_by_an_index(sqlite_backend: SQLBackend) -> None:
    """Every read of the segment repository searches a key or an index: a segment's
    members, a customer's memberships and both histories."""
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    customer = crm.customers.create().id
    exercise_segment_repository(crm, customer)

    def reads() -> None:
        with sqlite_backend.unit_of_work(crm.tenant, read_only=True) as uow:
            read_segments(uow.segments, customer, "seg-1")

    selects = _selects_of(sqlite_backend, reads)
    for table in ("ecrm_segments", "ecrm_segment_members", "ecrm_segment_changes"):
        assert any(f"FROM {table}" in s for s, _ in selects), table
    # all() reads every segment of the tenant: the one walk that is meant.
    listing = [(s, p) for s, p in selects if s.endswith("WHERE ecrm_segments.tenant_id = ?")]
    assert len(listing) == 1
    _assert_no_walks(sqlite_backend, [read for read in selects if read not in listing])


@pytest.mark.parametrize("fixture", ["postgres_backend", "mysql_backend"])
def test_server_case_timelines_walk_the_customer_index_backwards(
        fixture: str, request: pytest.FixtureRequest) -> None:
    """As for interactions: both case timelines follow the customer's (time, id) index
    from the bound, newest first, with no sort; so does the list of a customer's cases."""
    backend: SQLBackend = request.getfixturevalue(fixture)
    tenant, customers = _case_history(backend)

    def reads_of_a_customer() -> None:
        _page_case_timelines(backend, tenant, customers[0])
        with backend.unit_of_work(tenant, read_only=True) as uow:
            uow.cases.for_customer(customers[0])

    selects = _selects_of(backend, reads_of_a_customer)
    reads = [(s, p, index) for s, p in selects for table, index in
             CASE_TIMELINE_INDEXES.items() if re.search(rf"FROM {table}\b", s)]
    assert len(reads) == 5
    _assert_index_walks(backend, fixture, reads)


def _assert_index_walks(backend: SQLBackend, fixture: str,
                        reads: list[tuple[str, object, str]]) -> None:
    """Each read's plan walks its index (the one the planner chose, not merely one it
    considered) and sorts nothing. On PostgreSQL sequential scans and sorts are switched
    off, to ask whether such a plan exists."""
    raw = backend.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if fixture == "postgres_backend":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_sort = off")
        for statement, parameters, index in reads:
            cursor.execute(f"EXPLAIN {statement}", parameters)
            rows = cursor.fetchall()
            plan = "\n".join(str(row) for row in rows)
            assert index in _chosen_indexes(fixture, rows), plan
            assert "Sort" not in plan and "filesort" not in plan, plan
    finally:
        raw.rollback()
        raw.close()


def _chosen_indexes(fixture: str, rows: list[tuple[object, ...]]) -> set[str]:
    """The indexes an EXPLAIN's plan reads: PostgreSQL's "using <index> on" nodes,
    MySQL/MariaDB's ``key`` column (``possible_keys`` lists every candidate)."""
    if fixture == "postgres_backend":
        return {match for (line, *_) in rows
                for match in re.findall(r"using (\S+) on", str(line))}
    return {str(row[5]) for row in rows}


ORDERS_INDEX = "ix_ecrm_orders_tenant_id_customer_id_placed_at"
#: The rule of benchmarks/segments.py: three order aggregates and two profile columns.
SEGMENT_RULE = ('orders.count >= 3 and days_since_last_order <= 180 '
                'and orders.total_spent >= 20000 and prefecture in ("東京都", "千葉県") '
                'and gender == "female"')


def _segment_select(backend: SQLBackend) -> tuple[str, object]:
    """The SELECT that evaluates :data:`SEGMENT_RULE` on a small new tenant."""
    crm = CRM(backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    for n in range(4):
        customer = crm.customers.create()
        for k in range(n):
            crm.orders.record(order_id=f"o-{n}-{k}", customer_id=customer.id, channel="web",
                              placed_at=WHEN - timedelta(days=k),
                              lines=[OrderLine("A", 1, 10000)])
    registry = FieldRegistry()
    context = RuleContext(WHEN, crm.currency, registry)

    def evaluate() -> object:
        with backend.unit_of_work(crm.tenant, read_only=True) as uow:
            return uow.segment_query.matching(parse(SEGMENT_RULE, registry), context)

    (select,) = [s for s in _selects_of(backend, evaluate) if "ecrm_orders" in s[0]]
    return select


def test_segment_order_conditions_read_the_customer_index_once(
        sqlite_backend: SQLBackend) -> None:
    """The three order conditions share one subquery, which searches the customer's
    orders by index; the customer's own columns are tested before it."""
    statement, parameters = _segment_select(sqlite_backend)
    assert statement.count("FROM ecrm_orders") == 1, statement
    assert statement.index("ecrm_customers.gender") < statement.index("FROM ecrm_orders")
    with sqlite_backend.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                       parameters)]
    orders = [step for step in plan if "ecrm_orders" in step]
    assert orders == [f"SEARCH ecrm_orders USING INDEX {ORDERS_INDEX} "
                      "(tenant_id=? AND customer_id=? AND placed_at<?)"], plan


@pytest.mark.parametrize("fixture", ["postgres_backend", "mysql_backend"])
def test_server_segment_order_conditions_read_the_customer_index(
        fixture: str, request: pytest.FixtureRequest) -> None:
    """The servers read a customer's orders through the same index, with no sort."""
    backend: SQLBackend = request.getfixturevalue(fixture)
    statement, parameters = _segment_select(backend)
    assert statement.count("FROM ecrm_orders") == 1, statement
    _assert_index_walks(backend, fixture, [(statement, parameters, ORDERS_INDEX)])


#: RFM conditions beside a profile condition, a negation and a null test.
RFM_RULE = ('(rfm.r >= 4 and gender == "female") or not rfm.segment(bins=3) == "lost" '
            'or rfm.m is null')


def _rfm_plan(backend: SQLBackend) -> list[str]:
    """The plan lines of the SELECT evaluating :data:`RFM_RULE` on a small new tenant."""
    crm = CRM(backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    for n in range(12):
        customer = crm.customers.create()
        for k in range(n % 3):
            crm.orders.record(order_id=f"o-{n}-{k}", customer_id=customer.id, channel="web",
                              placed_at=WHEN - timedelta(days=n + k),
                              lines=[OrderLine("A", 1, 1000 * n)])
    registry = FieldRegistry()
    context = RuleContext(WHEN, crm.currency, registry)

    def evaluate() -> object:
        with backend.unit_of_work(crm.tenant, read_only=True) as uow:
            return uow.segment_query.matching(parse(RFM_RULE, registry), context)

    ((statement, parameters),) = [s for s in _selects_of(backend, evaluate)
                                  if "ecrm_orders" in s[0]]
    dialect = backend.engine.dialect.name
    raw = backend.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(("EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN ")
                       + statement, parameters)
        return [" | ".join(map(str, row)) for row in cursor.fetchall()]
    finally:
        raw.rollback()
        raw.close()


@pytest.mark.parametrize("fixture", ["sqlite_backend", "postgres_backend", "mysql_backend"])
def test_rfm_conditions_rank_the_shop_once_not_per_customer(
        fixture: str, request: pytest.FixtureRequest) -> None:
    """Each RFM condition is an uncorrelated IN over the ranking query, which the database
    works out once; at most an index is probed per customer (MariaDB's index_subquery
    into the materialized ranking, PostgreSQL's hashed subplan)."""
    plan = _rfm_plan(request.getfixturevalue(fixture))
    text = "\n".join(plan)
    assert "CORRELATED LIST SUBQUERY" not in text, text
    if fixture == "postgres_backend":
        used = re.findall(r"(\w+ )?SubPlan \d+\)", text)  # references, not headers
        assert used and all(how == "hashed " for how in used), text
    dependent = [step for step in plan if "DEPENDENT SUBQUERY" in step]
    assert all(" | index_subquery | " in step and "<derived" in step
               for step in dependent), text


def test_export_reads_search_by_an_index(sqlite_backend: SQLBackend) -> None:
    """Every read of a customer's export goes through an index on the customer (or a
    key), whatever else the tenant holds."""
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}", clock=ManualClock(WHEN))
    shop = seed(crm)
    selects = _selects_of(sqlite_backend, lambda: crm.privacy.export(shop.alice))
    assert {t for s, _ in selects for t in ("ecrm_outbox", "ecrm_coupon_issues",
                                            "ecrm_referrals", "ecrm_point_lots") if t in s
            } == {"ecrm_outbox", "ecrm_coupon_issues", "ecrm_referrals", "ecrm_point_lots"}
    _assert_no_walks(sqlite_backend, selects)
