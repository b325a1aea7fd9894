"""The built-in e-mail channel: a raw RFC 5322 message (as an inbound-mail webhook or a
mailbox hands it over) becomes one :class:`ecrm.InboundMessage`.

- the sender is the From address and its display name;
- the body is what the customer wrote (``reply_text``: the quoted previous message
  dropped), else the whole text; a message without text says which files it carried;
- the external id is the Message-ID, and the message answers the ids of In-Reply-To and
  References, so a reply threads into the case of the message it answers;
- the time is the Date header, or now when it is missing or later than now;
- the payload keeps the recipients and each attachment's name, type and size (not the
  content), within the 4 KiB limit of a payload.

Automatic mail (an ``Auto-Submitted`` header other than ``no``: out-of-office replies,
delivery reports) gives nothing, so that such mail never opens cases or loops.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ecrm.domain.cases import MAX_BODY_CHARS
from ecrm.domain.inbound import (
    MAX_EXTERNAL_ID,
    MAX_INBOUND_BYTES,
    MAX_REPLIES_TO,
    MAX_SUBJECT,
    InboundMessage,
    Sender,
)
from ecrm.domain.interactions import MAX_PAYLOAD_BYTES
from ecrm.errors import ValidationError
from ecrm.hookspecs import hookimpl

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.domain.inbound_email import InboundEmail

#: The channel this plugin reads.
CHANNEL = "email"
#: Recipients kept in the payload, per header (To, Cc).
MAX_RECIPIENTS = 10


class EmailChannel:
    """The ``email`` channel's ``ecrm_receive``. Every CRM registers one under the name
    ``"ecrm.channels.email"``; it answers last (``trylast``), so a host plugin that reads
    its mail provider's own format for ``"email"`` is asked first."""

    @hookimpl(trylast=True)
    def ecrm_receive(self, crm: CRM, channel: str, payload: bytes | Mapping[str, Any]
                     ) -> list[InboundMessage] | None:
        """One :class:`InboundMessage` for a raw e-mail on channel ``email`` (none for
        automatic mail); None for other channels."""
        if channel != CHANNEL:
            return None
        return receive_email(payload, now=crm.clock.now())


def receive_email(raw: object, *, now: datetime) -> list[InboundMessage]:
    """The messages a raw e-mail holds: one, or none for automatic mail.

    :raises ValidationError: ``payload`` for a mapping (the channel reads the message's
        bytes), ``message`` or ``from`` for input that is not an e-mail (see
        :func:`~ecrm.domain.inbound_email.parse_email`), ``sender.email`` for a From
        address ecrm cannot keep as a customer's e-mail.
    """
    from ecrm.domain.inbound_email import parse_email  # the parser loads only when used

    if isinstance(raw, Mapping):
        raise ValidationError("payload", "the email channel reads the raw message "
                                         "(RFC 5322 bytes), not a mapping")
    if not isinstance(raw, (bytes, str)):
        raise ValidationError("payload", f"expected bytes, got {type(raw).__name__}")
    mail = parse_email(raw, max_bytes=MAX_INBOUND_BYTES)
    if _automatic(mail):
        return []
    return [message_from_email(mail, raw=raw.encode() if isinstance(raw, str) else raw,
                               now=now)]


def message_from_email(mail: InboundEmail, *, raw: bytes, now: datetime) -> InboundMessage:
    """The :class:`InboundMessage` of a parsed e-mail (``raw`` names a message that has
    no Message-ID by its SHA-256)."""
    body, truncated = _body(mail)
    external_id = (message_key(mail.message_id) if mail.message_id
                   else "sha256:" + hashlib.sha256(raw).hexdigest())
    answered = [mail.in_reply_to, *reversed(mail.references)]
    replies_to = [key for key in dict.fromkeys(message_key(i) for i in answered if i)
                  if key != external_id][:MAX_REPLIES_TO]
    return InboundMessage(
        sender=Sender(email=mail.from_address, name=(mail.from_name or "")[:200] or None),
        body=body,
        occurred_at=min(mail.sent_at, now) if mail.sent_at else now,
        external_id=external_id,
        subject=mail.subject[:MAX_SUBJECT] or None,
        replies_to=tuple(replies_to),
        payload=_payload(mail, truncated=truncated),
    )


def message_key(message_id: str) -> str:
    """A Message-ID as an external id: as it is, or its SHA-256 when it is longer than
    ``MAX_EXTERNAL_ID`` (the same for the message and for the replies naming it)."""
    if len(message_id) <= MAX_EXTERNAL_ID:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _automatic(mail: InboundEmail) -> bool:
    """RFC 3834: mail a program sent by itself (auto-replies, delivery reports)."""
    value = (mail.header("Auto-Submitted") or "no").split(";")[0].strip().lower()
    return value != "no"


def _body(mail: InboundEmail) -> tuple[str, bool]:
    """The body to store and whether it was cut to ``MAX_BODY_CHARS``."""
    text = mail.reply_text.strip() or mail.text.strip()
    if not text:
        names = [a.filename or a.content_type for a in mail.attachments]
        text = f"(no text; attached: {', '.join(names)})" if names else "(no text)"
    if len(text) > MAX_BODY_CHARS:
        return text[:MAX_BODY_CHARS].rstrip(), True
    return text, False


def _payload(mail: InboundEmail, *, truncated: bool) -> dict[str, Any]:
    """Recipients and attachments, as many attachments as fit in a payload."""
    payload: dict[str, Any] = {"to": list(mail.to[:MAX_RECIPIENTS])}
    if mail.cc:
        payload["cc"] = list(mail.cc[:MAX_RECIPIENTS])
    if truncated:
        payload["truncated"] = True
    if not mail.attachments:
        return payload
    payload["attachments"] = []
    for index, attachment in enumerate(mail.attachments):
        payload["attachments"].append({"filename": attachment.filename,
                                       "content_type": attachment.content_type,
                                       "size": attachment.size})
        if _size(payload) > MAX_PAYLOAD_BYTES - 64:  # room for the count of the rest
            payload["attachments"].pop()
            payload["attachments_omitted"] = len(mail.attachments) - index
            break
    return payload


def _size(payload: Mapping[str, Any]) -> int:
    return len(json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode())
