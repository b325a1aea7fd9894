"""Security review: what arrives from outside (an unsubscribe link's token, a webhook's
signature header) is refused cleanly whatever it holds: a ValidationError naming the
field, or False, never another exception (which a host's endpoint would answer with a
500)."""

from __future__ import annotations

import contextlib
from datetime import timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ecrm
from ecrm.channels.webhook import sign, verify_signature

SECRET = "0123456789abcdef0123"
hostile = st.text(max_size=80) | st.sampled_from(
    ["é.AAAA", "\u00e9.\u00e9", "a.b", ".", "..", "\x00.\x00", "AAAA.é", "𝟙.𝟚"])


@settings(max_examples=200, deadline=None)
@given(token=hostile)
def test_any_token_text_is_refused_with_a_validation_error(token: str) -> None:
    crm = ecrm.CRM.open("memory://", secret=SECRET)
    with pytest.raises(ecrm.ValidationError) as caught:
        crm.consent.read_token(token)
    assert caught.value.field == "token"


@pytest.mark.parametrize("token", ["é.AAAA", "東京.abc"])
def test_a_token_with_non_ascii_text_is_refused(token: str) -> None:
    crm = ecrm.CRM.open("memory://", secret=SECRET)
    with pytest.raises(ecrm.ValidationError):
        crm.consent.read_token(token)


@settings(max_examples=200, deadline=None)
@given(header=hostile | st.builds(lambda t, v: f"t={t},v1={v}", hostile, hostile))
def test_any_signature_header_gives_true_or_false(header: str) -> None:
    assert verify_signature(SECRET, header, b"{}", now=1_700_000_000) is False


@pytest.mark.parametrize("header", ["t=1700000000,v1=é", "t=²,v1=00", "t=1700000000,v1=𝟘"])
def test_non_ascii_signature_fields_are_refused(header: str) -> None:
    assert verify_signature(SECRET, header, b"{}", now=1_700_000_000) is False


def test_a_good_signature_still_verifies() -> None:
    header = sign(SECRET, b"{}", 1_700_000_000)
    assert verify_signature(SECRET, header, b"{}", now=1_700_000_000)
    assert verify_signature(SECRET, header + ",v1=é", b"{}", now=1_700_000_000)


def _nested(depth: int) -> dict[str, Any]:
    document: dict[str, Any] = {}
    inner = document
    for _ in range(depth - 1):
        inner["a"] = {}
        inner = inner["a"]
    return document


@pytest.mark.parametrize("depth", [65, 600, 5000])
def test_deeply_nested_attributes_are_a_validation_error(depth: int) -> None:
    """A host passing a request's JSON straight through must get a ValidationError, not a
    RecursionError (a 500)."""
    crm = ecrm.CRM.open("memory://")
    with pytest.raises(ecrm.ValidationError) as caught:
        crm.customers.create(attributes=_nested(depth))
    assert caught.value.field.startswith("attributes") and "64 levels" in caught.value.message
    assert crm.customers.create(attributes=_nested(64)).attributes == _nested(64)


def test_a_deeply_nested_inbound_payload_is_a_validation_error() -> None:
    crm = ecrm.CRM.open("memory://")
    with pytest.raises(ecrm.ValidationError) as caught:
        crm.inbound.receive("email", _nested(5000))
    assert caught.value.field == "payload"


@pytest.mark.parametrize(("survivor", "duplicate", "field"), [
    (None, "c-1", "survivor_id"), ("c-1", None, "duplicate_id"), ("c-1", 7, "duplicate_id"),
    (["c-1"], "c-2", "survivor_id")])
def test_a_merge_of_missing_ids_is_a_validation_error(
        survivor: object, duplicate: object, field: str) -> None:
    """A host passing a form's missing field (None) got a TypeError from sorting."""
    crm = ecrm.CRM.open("memory://")
    with pytest.raises(ecrm.ValidationError) as caught:
        crm.customers.merge(survivor, duplicate)  # type: ignore[arg-type]
    assert caught.value.field == field


any_value = st.one_of(
    st.none(), st.text(max_size=20), st.integers(), st.floats(), st.booleans(),
    st.binary(max_size=5), st.lists(st.text(max_size=5), max_size=3), st.dates(),
    st.datetimes(), st.datetimes(timezones=st.just(timezone.utc)), st.decimals(),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.tuples(st.text(max_size=5), st.text(max_size=5)), st.just(object()))
CUSTOMER_FIELDS = ["email", "name", "kana_name", "phone", "external_id", "birth_date",
                   "gender", "address", "acquisition_channel", "account_id", "attributes",
                   "signed_up_at"]


@settings(max_examples=150, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(CUSTOMER_FIELDS), any_value, max_size=4),
       values=st.lists(any_value, min_size=2, max_size=2))
def test_shopper_facing_writes_raise_only_ecrm_errors(fields: dict[str, object],
                                                      values: list[object]) -> None:
    crm = ecrm.CRM.open("memory://")
    someone = crm.customers.create(email="someone@example.com")
    calls = [lambda: crm.customers.create(**fields),
             lambda: crm.customers.update(someone.id, **fields),
             lambda: crm.customers.import_many([fields]),
             lambda: crm.consent.grant(someone.id, values[0], source=values[1]),
             lambda: crm.suppressions.add(values[0], values[1]),
             lambda: crm.inbound.receive("email", values[0], headers=values[1])]
    for call in calls:
        with contextlib.suppress(ecrm.ValidationError, ecrm.ConflictError):
            call()


rule_documents = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
    | st.sampled_from(["and", "email", "attribute", "==", "in", "orders.count", ">="]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["and", "or", "not", "field", "op", "value", "args", "key"]),
        inner, max_size=4), max_leaves=10)


@settings(max_examples=150, deadline=None)
@given(rule=rule_documents | st.text(max_size=60))
def test_any_rule_document_or_text_is_a_rule_or_a_rule_error(rule: object) -> None:
    crm = ecrm.CRM.open("memory://")
    try:
        crm.segments.count(rule)  # type: ignore[arg-type]
    except ecrm.ValidationError as error:
        assert error.field.startswith("rule")
