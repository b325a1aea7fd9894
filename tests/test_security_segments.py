"""Security review: hostile strings in segment rules.

Whatever a rule's value or attribute key holds (quotes, backslashes, SQL and JSON-path
fragments, NUL, newlines, any Unicode), the rule is either refused with a
:class:`~ecrm.domain.segment_rules.RuleError` (a ``ValidationError`` naming the field) or
matched as plain data: SQLite, PostgreSQL and MariaDB select the same customers as the
memory backend, the reference.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, ValidationError
from ecrm.backends.memory import MemoryBackend
from ecrm.domain.segment_fields import FieldRegistry, RuleContext
from ecrm.domain.segment_rules import Condition, Op, RuleError

REGISTRY = FieldRegistry()
BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]

#: Strings known to break naive SQL or JSON-path building.
HOSTILE = ["'; DROP TABLE ecrm_customers; --", '$.a") OR 1=1 --', '" OR 1=1 --', "\\",
           "\\\"", "a'b", 'a"b', "$.a", "a.b", "a[0]", "*", "%", "_", "\x00", "note\n",
           "note\r\n", "\n", " note", "note ", "\u202e", "x\u200by", "東京", "ǅ", "٣x",
           "a-b", "note", "\U0001f600", "a\\u0022b", "\U0001d400x", "ａ", "e\u0301"]
hostile = st.sampled_from(HOSTILE) | st.text(max_size=12) | st.text(
    st.sampled_from("'\"\\$.[]*%_-;\n\x00 aé東"), min_size=1, max_size=8) | st.text(
    st.characters(categories=["L", "N"]), min_size=1, max_size=6)  # keys rules accept
OPS = [Op.EQ, Op.NE, Op.IN, Op.CONTAINS, Op.STARTS_WITH, Op.ENDS_WITH, Op.IS_NULL]


def _shop(backend: Any, key: str, value: str) -> tuple[CRM, dict[str, str]]:
    """A tenant with customers holding ``value`` under ``key``, under ``note``, as their
    name, and one holding something else; returns the CRM and the ids by label."""
    crm = CRM(backend, tenant=f"sec-{uuid.uuid4().hex[:10]}")
    wanted = {"under-key": {"attributes": {key: value}},
              "under-note": {"attributes": {"note": value}},
              "as-name": {"name": value},
              "other": {"name": "other", "attributes": {key: "other", "note": "other"}}}
    labels = {}
    for label, fields in wanted.items():
        try:
            labels[crm.customers.create(**fields).id] = label
        except ValidationError as error:  # NUL, a lone surrogate, a blank name...
            assert error.field in ("name", "attributes") or error.field.startswith(
                "attributes."), error.field
    return crm, labels


def _selected(crm: CRM, labels: dict[str, str], condition: Condition) -> list[str] | str:
    """The labels of the customers ``condition`` selects, or ``"refused"``."""
    try:
        rule = REGISTRY.bind(condition)
    except RuleError as error:
        assert error.field == "rule" and str(error).startswith("rule: ")
        return "refused"
    context = RuleContext(crm.clock.now(), crm.currency, REGISTRY)
    with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
        return sorted(labels[i] for i in uow.segment_query.matching(rule, context))


def _conditions(key: str, value: str, op: Op) -> list[Condition]:
    target: Any = None if op is Op.IS_NULL else (value, "x") if op is Op.IN else value
    return [Condition("attribute", op, target, {"key": key}),
            Condition("attribute", op, target, {"key": "note"}),
            Condition("name", op, target),
            Condition("interactions.count", Op.GE, 0, {"channel": key}),
            Condition("consent", Op.EQ, True, {"channel": key})]


@pytest.mark.parametrize("fixture", BACKENDS)
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(key=hostile, value=hostile, op=st.sampled_from(OPS))
def test_hostile_keys_and_values_are_refused_or_matched_as_plain_data(
        fixture: str, request: pytest.FixtureRequest, key: str, value: str, op: Op) -> None:
    reference, reference_labels = _shop(MemoryBackend(), key, value)
    subject, subject_labels = _shop(request.getfixturevalue(fixture), key, value)
    assert sorted(reference_labels.values()) == sorted(subject_labels.values())
    for condition in _conditions(key, value, op):
        expected = _selected(reference, reference_labels, condition)
        assert _selected(subject, subject_labels, condition) == expected, condition


@pytest.mark.parametrize("key", ["note\n", "note\r\n", "a\n"])
def test_a_key_with_a_trailing_newline_is_refused(key: str) -> None:
    """``re.match`` with ``$`` let ``"note\\n"`` through, and SQLite and MariaDB then read
    another JSON path than PostgreSQL and the memory backend."""
    with pytest.raises(RuleError) as caught:
        REGISTRY.bind(Condition("attribute", Op.EQ, "x", {"key": key}))
    assert caught.value.field == "rule" and "attribute(key)" in caught.value.message


@pytest.mark.parametrize("tenant", ["shop\n", "shop\r\n"])
def test_a_tenant_key_with_a_trailing_newline_is_refused(tenant: str) -> None:
    """The tenant key leads every primary key: ``"shop\\n"`` must not pass for a key."""
    with pytest.raises(ValidationError) as caught:
        CRM(MemoryBackend(), tenant=tenant)
    assert caught.value.field == "tenant"


def test_a_plugin_field_name_with_a_trailing_newline_is_refused() -> None:
    from ecrm.domain.segment_fields import SegmentField, ValueType

    field = SegmentField("vip\n", ValueType.TEXT, "x", sql=lambda c: None,
                         python=lambda c: None)
    with pytest.raises(RuleError) as caught:
        FieldRegistry([field])
    assert caught.value.field == "fields"


@pytest.mark.parametrize("rule", [None, [], 0, True, 1.5, object(), b"age > 1"])
def test_a_rule_of_another_type_is_a_rule_error(rule: object) -> None:
    crm = CRM.open("memory://")
    with pytest.raises(RuleError) as caught:
        crm.segments.count(rule)  # type: ignore[arg-type]
    assert caught.value.field == "rule" and "expected a rule" in caught.value.message
