"""Signed consent tokens for the links in a message: "unsubscribe" and "confirm your
subscription" (double opt-in).

A token names the tenant, the customer, the channel, the purpose and the action, with
the time it was issued, signed with HMAC-SHA256 under a key derived from the shop's
secret. It holds no personal data beyond the customer's opaque id, cannot be forged or
altered without the secret, and changes nothing by itself: the host shows a page and
makes an explicit call (a prefetching mail scanner that opens the link must not
unsubscribe anyone).
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: The shortest secret accepted: 16 bytes (128 bits).
MIN_SECRET_BYTES = 16
#: The longest token read; anything longer is refused before decoding.
MAX_TOKEN = 1024
_CONTEXT = b"ecrm consent token v1"


class TokenAction(enum.StrEnum):
    """What a token lets its holder do."""

    UNSUBSCRIBE = "unsubscribe"  #: withdraw consent
    CONFIRM = "confirm"  #: confirm a grant (double opt-in)


@attrs.frozen
class ConsentToken:
    """The signed content of a token."""

    tenant: str
    customer_id: str
    channel: str
    purpose: str
    action: TokenAction
    issued_at: datetime


def signing_key(secret: object) -> bytes:
    """The key tokens are signed with, derived from the shop's ``secret`` (str or bytes,
    at least :data:`MIN_SECRET_BYTES`). :raises ValidationError: on ``secret``."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if not isinstance(secret, bytes):
        raise ValidationError("secret", "expected str or bytes; set CRM(secret=...)")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValidationError("secret", f"is {len(secret)} bytes; at least "
                                        f"{MIN_SECRET_BYTES} random bytes are needed")
    return hmac.new(secret, _CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, token: ConsentToken) -> str:
    """``token`` as URL-safe text: the payload and its signature."""
    return signer(key, token.tenant, token.channel, token.purpose, token.action,
                  token.issued_at)(token.customer_id)


def signer(key: bytes, tenant: str, channel: str, purpose: str, action: TokenAction,
           issued_at: datetime) -> Callable[[str], str]:
    """What :func:`sign` makes of a token with these fields, as a function of the
    customer id: a campaign signs one token per recipient, alike but for the id."""
    head = f'{{"t":{json.dumps(tenant)},"c":'
    tail = (f',"ch":{json.dumps(channel)},"p":{json.dumps(purpose)},'
            f'"a":{json.dumps(action.value)},"i":{int(issued_at.timestamp())}}}')

    keyed = hmac.new(key, digestmod=hashlib.sha256)  # the key's pads, worked out once

    def sign_for(customer_id: str) -> str:
        payload = _encode(f"{head}{json.dumps(customer_id)}{tail}".encode())
        mac = keyed.copy()
        mac.update(payload.encode("ascii"))
        return f"{payload}.{_encode(mac.digest())}"

    return sign_for


def read(key: bytes, text: object, *, now: datetime,
         max_age: timedelta | None = None) -> ConsentToken:
    """The content of token ``text`` once its signature checks out (and it is at most
    ``max_age`` old). :raises ValidationError: on ``token``: malformed, forged, altered
    or expired."""
    if (not isinstance(text, str) or len(text) > MAX_TOKEN or not text.isascii()
            or text.count(".") != 1):
        raise ValidationError("token", "is not an ecrm consent token")
    payload, signature = text.split(".")
    if not hmac.compare_digest(_decode(signature), _mac(key, payload)):
        raise ValidationError("token", "has a bad signature (forged, altered, or signed "
                                       "with another secret)")
    token = _parse(_decode(payload))
    if max_age is not None and now - token.issued_at > max_age:
        raise ValidationError("token", f"expired: issued {token.issued_at.isoformat()}, "
                                       f"valid for {max_age}")
    return token


def _parse(payload: bytes) -> ConsentToken:
    try:
        fields = json.loads(payload)
        return ConsentToken(
            fields["t"], fields["c"], check.identifier("token", fields["ch"]),
            check.identifier("token", fields["p"]), TokenAction(fields["a"]),
            datetime.fromtimestamp(fields["i"], tz=timezone.utc))
    except (ValueError, KeyError, TypeError) as error:  # signed, yet not ours
        raise ValidationError("token", "is not an ecrm consent token") from error


def _mac(key: bytes, payload: str) -> bytes:
    return hmac.digest(key, payload.encode("ascii"), "sha256")


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError("token", "is not an ecrm consent token") from None
