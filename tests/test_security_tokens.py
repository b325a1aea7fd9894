"""Security review: what arrives from outside (an unsubscribe link's token, a webhook's
signature header) is refused cleanly whatever it holds: a ValidationError naming the
field, or False, never another exception (which a host's endpoint would answer with a
500)."""

from __future__ import annotations

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
