"""The pure rules of consent: who may be contacted for which purpose, and the signed
tokens of unsubscribe and confirmation links."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain import consent_tokens as tokens
from ecrm.domain.consent import Consent, OptInLevel, permits
from ecrm.domain.consent_tokens import ConsentToken, TokenAction
from ecrm.errors import ValidationError

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
KEY = tokens.signing_key("sixteen bytes or more of secret")
identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
token_values = st.builds(
    ConsentToken, tenant=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}", fullmatch=True),
    customer_id=st.text(min_size=1, max_size=36), channel=identifiers, purpose=identifiers,
    action=st.sampled_from(TokenAction),
    issued_at=st.integers(0, 2**33).map(lambda s: datetime.fromtimestamp(s, timezone.utc)))


@pytest.mark.parametrize(("state", "purpose", "least", "allowed"), [
    (None, "marketing", None, False),
    (None, "transactional", None, True),
    (None, "surveys", None, False),
    (True, "marketing", None, True),
    (True, "marketing", OptInLevel.CONFIRMED, False),
    ("confirmed", "marketing", OptInLevel.CONFIRMED, True),
    (False, "marketing", None, False),
    (False, "transactional", None, False),
    (True, "transactional", None, True),
])
def test_who_may_be_contacted(state: object, purpose: str, least: OptInLevel | None,
                              allowed: bool) -> None:
    consent = None if state is None else Consent(
        "c", "email", state is not False, NOW, purpose=purpose,
        level=None if state is False else OptInLevel(
            "confirmed" if state == "confirmed" else "single"))
    assert permits(consent, purpose, least) is allowed


@given(token_values)
def test_a_signed_token_reads_back(token: ConsentToken) -> None:
    assert tokens.read(KEY, tokens.sign(KEY, token), now=NOW) == token


def test_the_token_format_does_not_change() -> None:
    """Tokens already in sent messages must keep reading back: a known answer."""
    token = ConsentToken("ten-ant", 'cid"é', "email", "marketing", TokenAction.UNSUBSCRIBE,
                         datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert tokens.sign(tokens.signing_key("x" * 16), token) == (
        "eyJ0IjoidGVuLWFudCIsImMiOiJjaWRcIlx1MDBlOSIsImNoIjoiZW1haWwiLCJwIjoibWFya2V0aW5nIiwi"
        "YSI6InVuc3Vic2NyaWJlIiwiaSI6MTc2NzIyNTYwMH0.i8SCSw9BvyBeZgEvxiJTdo_l8OGRJr7rAI22gAFWUD0")


@given(token_values, st.data())
def test_any_changed_character_is_refused(token: ConsentToken, data: st.DataObject) -> None:
    text = tokens.sign(KEY, token)
    at = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from("AQgw-_.x=").filter(lambda c: c != text[at]))
    changed = text[:at] + replacement + text[at + 1:]
    try:
        read = tokens.read(KEY, changed, now=NOW)
    except ValidationError as error:
        assert error.field == "token"
    else:  # only base64 padding bits may differ and still decode to the same bytes
        assert read == token


@given(st.text(max_size=300))
def test_arbitrary_text_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValidationError) as error:
        tokens.read(KEY, text, now=NOW)
    assert error.value.field == "token"


def test_a_token_expires_only_when_asked() -> None:
    token = ConsentToken("shop", "c1", "email", "marketing", TokenAction.CONFIRM,
                         NOW - timedelta(days=8))
    text = tokens.sign(KEY, token)
    assert tokens.read(KEY, text, now=NOW) == token
    with pytest.raises(ValidationError, match="expired"):
        tokens.read(KEY, text, now=NOW, max_age=timedelta(days=7))
