"""The same segment rule over the same shop selects the same customers on every backend:
memory (the plain-Python reference), SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.backends.sql.tables import customers
from ecrm.domain.segment_eval import passes
from ecrm.domain.segment_fields import (
    BUILTIN_FIELDS,
    CUSTOMER_ROW_FIELDS,
    FieldRegistry,
    RuleContext,
)
from ecrm.domain.segment_rules import Condition, Op, Rule
from ecrm.domain.segment_text import to_text
from ecrm.testing.segment_shops import ShopPlan, load_shop, rules, shops

REGISTRY = FieldRegistry()
BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]


def members(crm: CRM, names: dict[str, str], rule: Rule, plan: ShopPlan) -> list[str]:
    context = RuleContext(plan.as_of, crm.currency, REGISTRY)
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        return sorted(names[i] for i in uow.segment_query.matching(rule, context))


def shop_on(backend: Any, plan: ShopPlan) -> tuple[CRM, dict[str, str]]:
    crm = CRM(backend, tenant=f"seg-{uuid.uuid4().hex[:10]}", clock=ManualClock(plan.as_of))
    return crm, load_shop(crm, plan)


#: Order aggregates (which SQL reads together, one subquery per and/or) beside a few
#: fields that are not, so rules mix them.
ORDER_MIX = FieldRegistry(f for f in BUILTIN_FIELDS if f.name.startswith(("orders.", "days_"))
                          or f.name in ("prefecture", "bought", "interactions.count"))


@pytest.mark.parametrize("fixture", BACKENDS)
@pytest.mark.parametrize("fields", [REGISTRY, ORDER_MIX], ids=["all-fields", "order-mix"])
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_rules_select_the_same_customers_as_the_reference(
        fixture: str, fields: FieldRegistry, request: pytest.FixtureRequest,
        data: st.DataObject) -> None:
    plan = data.draw(shops, label="shop")
    reference, reference_names = shop_on(MemoryBackend(), plan)
    subject, subject_names = shop_on(request.getfixturevalue(fixture), plan)
    for _ in range(12):
        rule = data.draw(rules(fields, plan.as_of), label="rule")
        expected = members(reference, reference_names, rule, plan)
        assert members(subject, subject_names, rule, plan) == expected, to_text(rule)


HOSTILE_VALUES = ["'; DROP TABLE ecrm_customers; --", '" OR 1=1 --', "%", "_", "!", "\\",
                  "0%", "a_b", "O'Brien", "東京都' OR '1'='1", "\u202e", "x\u200by", "A"]
NAMES = ["100%", "a_b", "axb", "a!b", "O'Brien", 'say "hi"', "back\\slash", "a", "x\u200by"]


@pytest.mark.parametrize("fixture", ["memory", *BACKENDS])
def test_hostile_values_match_literally_and_never_reach_the_sql_text(
        fixture: str, request: pytest.FixtureRequest) -> None:
    backend = MemoryBackend() if fixture == "memory" else request.getfixturevalue(fixture)
    crm = CRM(backend, tenant=f"seg-{uuid.uuid4().hex[:10]}")
    ids = {crm.customers.create(name=name, attributes={"note": name}).id: name
           for name in NAMES}
    context = RuleContext(crm.clock.now(), crm.currency, REGISTRY)
    for value in HOSTILE_VALUES:
        for field, args in (("name", {}), ("attribute", {"key": "note"})):
            for op, target in ((Op.EQ, value), (Op.IN, (value, "a")), (Op.CONTAINS, value),
                               (Op.STARTS_WITH, value), (Op.ENDS_WITH, value)):
                rule = REGISTRY.bind(Condition(field, op, target, args))
                expected = sorted(n for n in NAMES if passes(op, n, frozenset(target)
                                                          if op is Op.IN else target))
                with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
                    found = sorted(ids[i] for i in uow.segment_query.matching(rule, context))
                    if fixture != "memory":
                        sql = str(select(customers.c.id).where(
                            uow.segment_query.compile(rule, context)).compile(backend.engine))
                        assert value not in sql or value in ("%", "_", "!", "A"), sql
                assert found == expected, (field, op.value, value)


def test_the_memory_backend_reads_the_customer_row_fields_from_the_row() -> None:
    from ecrm.backends.memory_segment_query import _ON_ROW

    assert set(_ON_ROW) == CUSTOMER_ROW_FIELDS
