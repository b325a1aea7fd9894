"""Inbound traffic from channel plugins: what a webhook payload turns into.

A channel plugin (``ecrm_receive``) reads a channel's payload (a raw e-mail, a LINE
webhook body) and returns :class:`InboundMessage` objects, a customer's messages that
belong in a support case, and :class:`InboundEvent` objects, touchpoints recorded as
interactions. Each names its :class:`Sender`, which ``crm.inbound`` resolves to a customer.
Every field is checked when the object is built, so a plugin that reads a bad payload fails
with a :class:`ValidationError` naming the field before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.domain import cases
from ecrm.domain import validation as check
from ecrm.domain.interactions import small_payload
from ecrm.domain.personal import hidden
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.domain.cases import Case, CaseMessage
    from ecrm.domain.interactions import Interaction

#: The largest payload ``crm.inbound.receive`` hands to a plugin: 10 MiB, the size of the
#: largest e-mail :func:`ecrm.domain.inbound_email.parse_email` reads (an e-mail with
#: attachments is the biggest thing a channel delivers; a chat webhook is a few KiB).
MAX_INBOUND_BYTES = 10 * 1024 * 1024
#: The longest subject of a message, in characters.
MAX_SUBJECT = 200
#: The most external ids one message may answer (``replies_to``).
MAX_REPLIES_TO = 100
#: The longest external id (a Message-ID, a LINE message id), in characters.
MAX_EXTERNAL_ID = 128


def _moment(value: object) -> datetime:
    moment = check.aware("occurred_at", value)
    assert moment is not None
    return moment


def _is_sender(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, Sender):
        raise ValidationError("sender", f"expected an ecrm.Sender, got {type(value).__name__}")


def external_ids(field: str, value: object) -> tuple[str, ...]:
    """Distinct external ids in the order given, at most :data:`MAX_REPLIES_TO`."""
    if value is None:
        return ()
    found = dict.fromkeys(check.required_text(field, item, MAX_EXTERNAL_ID)
                          for item in check.names(field, value))
    if len(found) > MAX_REPLIES_TO:
        raise ValidationError(field, f"at most {MAX_REPLIES_TO} ids, got {len(found)}")
    return tuple(found)


@attrs.frozen
class Sender:
    """Who sent an inbound message or caused an event: how ``crm.inbound`` finds the
    customer. Give at least one of ``customer_id`` (used as it is), ``external_id`` (the
    customer's external id) or ``email``. A sender found by neither key but with an
    ``email`` becomes a new customer named ``name``.

    :raises ValidationError: ``sender`` when no key is given, ``sender.<field>`` when a
        field is malformed.
    """

    customer_id: str | None = attrs.field(
        default=None, converter=lambda value: check.text("sender.customer_id", value, 128))
    email: str | None = attrs.field(
        default=None, converter=lambda value: check.email("sender.email", value), repr=hidden)
    external_id: str | None = attrs.field(
        default=None, converter=lambda value: check.text("sender.external_id", value, 128))
    name: str | None = attrs.field(
        default=None, converter=lambda value: check.text("sender.name", value, 200),
        repr=hidden)

    def __attrs_post_init__(self) -> None:
        if self.customer_id is None and self.email is None and self.external_id is None:
            raise ValidationError("sender", "give a customer_id, an email or an external_id")


@attrs.frozen
class InboundMessage:
    """A customer's message for a support case.

    ``external_id`` is the channel's own id of the message (unique per channel): receiving
    it again adds nothing. ``replies_to`` holds the external ids of earlier messages it
    answers (e-mail In-Reply-To and References), which thread it into their case;
    ``case_id`` names the case outright. Without either, or when no case holds those ids,
    the message opens a new case titled ``subject`` (or the body's first line).
    ``payload`` is a small JSON mapping (at most 4 KiB) stored with the message.
    """

    sender: Sender = attrs.field(validator=_is_sender)
    body: str = attrs.field(converter=cases.body, repr=hidden)
    occurred_at: datetime = attrs.field(converter=_moment)
    external_id: str = attrs.field(
        converter=lambda value: check.required_text("external_id", value, MAX_EXTERNAL_ID))
    subject: str | None = attrs.field(
        default=None, converter=lambda value: check.text("subject", value, MAX_SUBJECT))
    replies_to: tuple[str, ...] = attrs.field(
        default=(), converter=lambda value: external_ids("replies_to", value))
    case_id: str | None = attrs.field(
        default=None, converter=lambda value: check.text("case_id", value, 128))
    order_ids: tuple[str, ...] = attrs.field(default=(), converter=cases.order_ids)
    payload: dict[str, Any] = attrs.field(factory=dict, converter=small_payload)

    @property
    def title(self) -> str:
        """The subject of the case this message opens: ``subject``, or else the body's
        first non-blank line, cut to :data:`MAX_SUBJECT` characters."""
        if self.subject is not None:
            return self.subject
        first = next(line.strip() for line in self.body.splitlines() if line.strip())
        return first[:MAX_SUBJECT]


@attrs.frozen
class InboundEvent:
    """A touchpoint to record as an interaction on the receiving channel (a follow, an
    unfollow, a read receipt). ``kind`` is an interaction kind (``[a-z][a-z0-9_]*``);
    with ``external_id`` receiving it again records nothing new."""

    sender: Sender = attrs.field(validator=_is_sender)
    kind: str = attrs.field(converter=lambda value: check.identifier("kind", value))
    occurred_at: datetime = attrs.field(converter=_moment)
    external_id: str | None = attrs.field(
        default=None, converter=lambda value: check.text("external_id", value, MAX_EXTERNAL_ID))
    payload: dict[str, Any] = attrs.field(factory=dict, converter=small_payload)
    sku: str | None = attrs.field(
        default=None, converter=lambda value: check.text("sku", value, 64))
    reference: str | None = attrs.field(
        default=None, converter=lambda value: check.text("reference", value, 128))


#: What a channel plugin's ``ecrm_receive`` returns a list of.
InboundItem = InboundMessage | InboundEvent


@attrs.frozen
class InboundResult:
    """What ``crm.inbound.receive`` stored (or found already stored, on a redelivery):
    the cases its messages opened, every message added to a case (the first message of
    an opened case included), and the interactions its events recorded, in payload
    order."""

    cases_opened: tuple[Case, ...] = ()
    messages: tuple[CaseMessage, ...] = ()
    interactions: tuple[Interaction, ...] = ()


def inbound_items(value: object) -> tuple[InboundItem, ...]:
    """A plugin's answer checked: a list or tuple of :class:`InboundMessage` and
    :class:`InboundEvent`. :raises ValidationError: ``items`` when it is anything else."""
    if not isinstance(value, (list, tuple)):
        raise ValidationError("items", "a channel plugin's ecrm_receive must return a list "
                                       f"of InboundMessage and InboundEvent, got "
                                       f"{type(value).__name__}")
    for item in value:
        if not isinstance(item, (InboundMessage, InboundEvent)):
            raise ValidationError("items", f"{type(item).__name__} is not an "
                                           "InboundMessage or InboundEvent")
    return tuple(value)


def inbound_payload(value: object, max_bytes: int = MAX_INBOUND_BYTES
                    ) -> bytes | Mapping[str, Any]:
    """A payload as plugins get it: bytes (a ``str`` encoded as UTF-8) or a JSON mapping,
    at most ``max_bytes`` (a mapping measured as compact UTF-8 JSON).

    :raises ValidationError: ``payload`` when it is empty, too large or of another type.
    """
    if isinstance(value, Mapping):
        _check_size(_json_size(value), max_bytes)
        return value
    if isinstance(value, str):
        _check_size(len(value), max_bytes)  # a character is at least one byte
        try:
            value = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("payload", "is a str with a lone surrogate; pass the "
                                             "bytes received instead") from None
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise ValidationError("payload", "expected bytes, str or a mapping, got "
                                         f"{type(value).__name__}")
    _check_size(len(value), max_bytes)
    if not value.strip():
        raise ValidationError("payload", "is empty")
    return value


def _json_size(value: Mapping[str, Any]) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"))
                   .encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError) as error:
        raise ValidationError("payload", f"a mapping payload must be JSON: {error}") from None
    except RecursionError:
        raise ValidationError("payload", "nests too deeply to be JSON") from None


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise ValidationError("payload", f"is {size:,} bytes, more than the limit of "
                                         f"{max_bytes:,}")


def header_map(value: object) -> dict[str, str]:
    """Request headers with lower-cased names, from a mapping or (name, value) pairs;
    repeated names are joined with ``", "`` as HTTP does.

    :raises ValidationError: ``headers`` when a name or value is not a string.
    """
    if value is None:
        return {}
    pairs: Iterable[object] = value.items() if isinstance(value, Mapping) else (
        check.names("headers", value))
    headers: dict[str, str] = {}
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2
                and all(isinstance(part, str) for part in pair)):
            raise ValidationError("headers", f"expected (name, value) strings, got "
                                         f"{type(pair).__name__}")
        name, text = pair[0].strip().lower(), pair[1].strip()
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers
