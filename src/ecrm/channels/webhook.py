"""The webhook delivery channel: outbox messages POSTed as JSON to an HTTP endpoint (an
SMS gateway of the shop's own, a LINE bridge, a serverless function).

Every request carries ``Content-Type: application/json``, ``Idempotency-Key: <message
id>`` (the same on a retry) and ``X-Ecrm-Signature: t=<unix time>,v1=<hex>``, where
``<hex>`` is the HMAC-SHA256, keyed with the shared secret, of ``"<t>.<body>"`` (the
decimal time, a dot, the raw request body). Receivers check it with
:func:`verify_signature`. A 2xx answer means sent (the provider id is the ``"id"`` of a
JSON answer, if any); 408, 429, 5xx, timeouts and connection errors are temporary;
every other answer is permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ecrm.clock import Clock, SystemClock
from ecrm.domain import validation as check
from ecrm.errors import DeliveryError, ValidationError
from ecrm.hookspecs import hookimpl

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.domain.outbox import OutboxMessage

#: The header that carries the signature.
SIGNATURE_HEADER = "X-Ecrm-Signature"
#: HTTP statuses worth trying again besides 5xx.
TEMPORARY_STATUSES = frozenset({408, 429})


class WebhookChannel:
    """Delivers messages of channel ``name`` (default ``"webhook"``) by POSTing them to
    ``url``, signed with ``secret``. ``clock`` gives the signature's time (default: the
    system clock)."""

    def __init__(self, url: str, *, secret: str | bytes, name: str = "webhook",
                 timeout: float = 10, clock: Clock | None = None) -> None:
        self.url = check.required_text("url", url, 2000)
        if not self.url.startswith(("http://", "https://")):
            raise ValidationError("url", "must be an http:// or https:// URL")
        if not secret:
            raise ValidationError("secret", "is required")
        self.secret = secret
        self.name = check.identifier("name", name)
        self.timeout = timeout
        self.clock = clock or SystemClock()

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[WebhookChannel]:
        """This channel is the one it contributes."""
        return [self]

    def send(self, message: OutboxMessage) -> str | None:
        """POST ``message``; the provider id is the answer's JSON ``"id"``, if any.
        :raises DeliveryError: a non-2xx answer or no answer."""
        import urllib.error
        import urllib.request

        body = json.dumps(payload(message), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": message.id,
            SIGNATURE_HEADER: sign(self.secret, body, int(self.clock.now().timestamp())),
            "User-Agent": "ecrm-webhook"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return _provider_id(response.read())
        except urllib.error.HTTPError as error:
            status = error.code
            raise DeliveryError(f"HTTP {status} from {shown_url(self.url)}", permanent=not (
                status >= 500 or status in TEMPORARY_STATUSES)) from error
        except (urllib.error.URLError, OSError) as error:
            raise DeliveryError(f"POST {shown_url(self.url)}: {error}") from error


def payload(message: OutboxMessage) -> dict[str, Any]:
    """The JSON document POSTed for ``message``."""
    return {"id": message.id, "key": message.key, "channel": message.channel,
            "purpose": message.purpose, "customer_id": message.customer_id,
            "recipient": message.recipient, "subject": message.subject,
            "body": message.body, "data": dict(message.data), "priority": message.priority,
            "campaign_id": message.campaign_id, "variant": message.variant,
            "step": message.step, "attempt": message.attempts + 1,
            "created_at": message.created_at.isoformat()}


def shown_url(url: str) -> str:
    """``url`` as delivery errors show it: without a user name, password, query or
    fragment, which often carry an access token (errors are kept on the message and
    end up in logs)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}{'' if port is None else f':{port}'}{parts.path}"


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The ``X-Ecrm-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify_signature(secret: str | bytes, header: str | None, body: bytes, *,
                     tolerance: int = 300, now: float | None = None) -> bool:
    """True when ``header`` (the ``X-Ecrm-Signature`` value) signs ``body`` with
    ``secret`` and its time is within ``tolerance`` seconds of ``now`` (default: the
    system time), which keeps an intercepted request from being replayed later. Several
    ``v1=`` entries may be given (while a secret is rotated); one must match."""
    import time

    fields = _signature_fields(header or "")
    stamps = fields.get("t", [])
    if len(stamps) != 1 or not (stamps[0].isascii() and stamps[0].isdigit()):
        return False
    timestamp = int(stamps[0])
    moment = time.time() if now is None else now
    if abs(moment - timestamp) > tolerance:
        return False
    expected = _digest(secret, timestamp, body)
    return any(hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
               for given in fields.get("v1", []))


def _digest(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _signature_fields(header: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    return fields


def _provider_id(answer: bytes) -> str | None:
    try:
        document = json.loads(answer) if answer else None
    except ValueError:
        return None
    if isinstance(document, Mapping) and document.get("id") is not None:
        return str(document["id"])
    return None
