"""On SQLite, the per-customer reads of points operations use an index on the customer
rather than walking every row of the tenant."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import event

from ecrm import CRM
from ecrm.backends.sql import SQLBackend


def test_points_reads_search_by_customer(sqlite_backend: SQLBackend) -> None:
    crm = CRM(sqlite_backend, tenant=f"plans-{uuid.uuid4().hex[:8]}")
    others = [crm.customers.create().id for _ in range(3)]
    for n, other in enumerate(others):
        crm.loyalty.earn(other, 10, key=f"other-{n}")
    customer = crm.customers.create().id
    selects: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append((statement, parameters))

    engine = sqlite_backend.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        crm.loyalty.earn(customer, 50, key="e1")
        crm.loyalty.earn(customer, 30, key="e2", expires_at=crm.clock.now() + timedelta(1))
        crm.loyalty.redeem(customer, 40, key="r1")
        crm.loyalty.balance(customer)
        crm.loyalty.history(customer)
        crm.loyalty.lots(customer)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert any("ecrm_point_lots" in s for s, _ in selects)
    with engine.connect() as conn:
        for statement, parameters in selects:
            plan = [row[3] for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters)]
            walks = [step for step in plan if step.startswith("SCAN")
                     or step.endswith("(tenant_id=?)")]
            assert not walks, (statement, plan)
