"""Audience keys: e-mail and phone normalisation and hashing."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.audience import audience_member, normalise_email, sha256_hex, to_e164


@pytest.mark.parametrize(("phone", "country", "expected"), [
    ("090-1234-5678", "JP", "+819012345678"),
    ("03 (1234) 5678", "JP", "+81312345678"),
    ("０９０－１２３４－５６７８", "JP", "+819012345678"),
    ("+81 90 1234 5678", None, "+819012345678"),
    ("0081 90 1234 5678", "US", "+819012345678"),
    ("(415) 555-2671", "US", "+14155552671"),
    ("1 415 555 2671", "CA", "+14155552671"),
    ("020 7946 0018", "GB", "+442079460018"),
    ("415-555-267", "US", None),
    ("12345", "JP", None),
    ("090-1234-5678", "ZZ", None),
    ("090-1234-5678", None, None),
    ("+1234567890123456", None, None),
    ("call me", "JP", None),
    (None, "JP", None),
])
def test_phones_become_e164(phone: str | None, country: str | None, expected: str | None
                            ) -> None:
    assert to_e164(phone, country) == expected


@given(st.text(max_size=20), st.sampled_from(["JP", "US", "GB", None]))
def test_e164_is_a_plus_and_8_to_15_digits_or_nothing(phone: str, country: str | None) -> None:
    result = to_e164(phone, country)
    assert result is None or (result[0] == "+" and result[1:].isdigit()
                              and 8 <= len(result) - 1 <= 15)


def test_emails_are_trimmed_and_lower_cased_before_hashing() -> None:
    assert normalise_email("  Hanako@Example.JP ") == "hanako@example.jp"
    assert normalise_email("   ") is None
    member = audience_member("c1", " Hanako@Example.JP", "090-1234-5678", "JP")
    assert member.email_sha256 == hashlib.sha256(b"hanako@example.jp").hexdigest()
    assert member.phone_sha256 == hashlib.sha256(b"+819012345678").hexdigest()
    bare = audience_member("c1", None, "090-1234-5678", "JP", phone_plus=False)
    assert bare.email_sha256 is None
    assert bare.phone_sha256 == hashlib.sha256(b"819012345678").hexdigest()


def test_sha256_hex_matches_the_published_test_vector() -> None:
    assert sha256_hex("abc") == ("ba7816bf8f01cfea414140de5dae2223"
                                 "b00361a396177a9cb410ff61f20015ad")
