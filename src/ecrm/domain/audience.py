"""Audience matching keys for advertising platforms: normalised e-mail addresses and
E.164 phone numbers, hashed with SHA-256 as Google Customer Match and Meta Custom
Audiences expect, so no plain contact data leaves the shop."""

from __future__ import annotations

import hashlib
import re

import attrs

#: Country calling codes of the countries Japanese shops sell to most; others need the
#: number stored in international form (``+CC...``).
CALLING_CODES = {
    "JP": "81", "US": "1", "CA": "1", "GB": "44", "KR": "82", "CN": "86", "TW": "886",
    "HK": "852", "SG": "65", "TH": "66", "VN": "84", "PH": "63", "MY": "60", "ID": "62",
    "AU": "61", "NZ": "64", "DE": "49", "FR": "33", "IT": "39", "ES": "34", "NL": "31",
}
#: North American numbering: no trunk 0, national numbers of 10 digits.
_NANP = {"US", "CA"}
_SEPARATORS = re.compile(r"[\s().\-‐－―ー]")


@attrs.frozen
class AudienceMember:
    """One customer as an advertising platform matches them: SHA-256 hex digests of the
    normalised e-mail and phone number (None when the customer has none, or the number
    cannot be put in international form)."""

    customer_id: str
    email_sha256: str | None
    phone_sha256: str | None


def normalise_email(email: str | None) -> str | None:
    """The address trimmed and lower-cased (None for a blank one)."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def to_e164(phone: str | None, country: str | None) -> str | None:
    """``phone`` as ``+<country code><number>`` (E.164), or None when it cannot be
    (no digits, an unknown country for a national number, a length outside 8-15 digits).

    A national number drops its trunk ``0`` (``090-1234-5678`` in JP is
    ``+819012345678``); ``+`` or ``00`` starts an international one.
    """
    if phone is None:
        return None
    raw = _SEPARATORS.sub("", phone.strip().translate(_FULL_WIDTH))
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("00"):
        digits = raw[2:]
    else:
        digits = _national(raw, (country or "").upper())
    if digits is None or not digits.isdigit() or not 8 <= len(digits) <= 15:
        return None
    return "+" + digits


_FULL_WIDTH = str.maketrans("０１２３４５６７８９＋", "0123456789+")


def _national(number: str, country: str) -> str | None:
    code = CALLING_CODES.get(country)
    if code is None or not number.isdigit():
        return None
    if country in _NANP:
        if len(number) == 11 and number.startswith("1"):
            return number
        return code + number if len(number) == 10 else None
    return code + (number[1:] if number.startswith("0") else number)


def sha256_hex(text: str | None) -> str | None:
    """The SHA-256 hex digest of ``text`` in UTF-8 (None stays None)."""
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def audience_member(customer_id: str, email: str | None, phone: str | None,
                    country: str | None, *, phone_plus: bool = True) -> AudienceMember:
    """The hashed matching keys of one customer. ``phone_plus=False`` hashes the number
    without its ``+`` (what Meta asks for); Google wants it with."""
    e164 = to_e164(phone, country)
    if e164 is not None and not phone_plus:
        e164 = e164[1:]
    return AudienceMember(customer_id, sha256_hex(normalise_email(email)), sha256_hex(e164))
