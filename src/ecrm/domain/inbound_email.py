"""Inbound e-mail: parse a raw RFC 5322 message into an :class:`InboundEmail`.

This backs the e-mail channel: a shop's inbound mail (an inquiry, a reply to a support case)
arrives as bytes from a webhook or a mailbox, and :func:`parse_email` turns it into plain,
storable values. It does no I/O and uses the standard library only.

Japanese mail is first-class: ISO-2022-JP (including the NEC and IBM extensions Windows
clients send, and half-width katakana), Shift_JIS / CP932 and EUC-JP bodies, RFC 2047
encoded words split in the middle of a character, RFC 2231 file names and raw 8-bit
headers. A malformed but plausible message degrades (replacement characters, an empty
body) instead of failing; only input that is not an e-mail at all raises
``ValidationError``. Every string in the result is free of NUL characters and lone
surrogates, so it can be stored on any backend.
"""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesParser

import attrs

from ecrm.domain import email_charsets as charsets
from ecrm.domain.email_text import html_to_text, reply_text
from ecrm.errors import ValidationError

__all__ = ["MAX_ADDRESS_TEXT", "MAX_DEPTH", "MAX_EMAIL_BYTES", "Attachment", "InboundEmail",
           "html_to_text", "parse_email", "reply_text"]

#: The largest message :func:`parse_email` accepts by default: 10 MiB.
MAX_EMAIL_BYTES = 10 * 1024 * 1024
#: Multipart nesting deeper than this is not walked (its parts count as one attachment).
MAX_DEPTH = 32
#: Address headers (From, To, Cc, Reply-To) are read up to this many characters.
MAX_ADDRESS_TEXT = 100_000

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"\r\n?")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
#: Zones ``parsedate_to_datetime`` leaves naive: -0000 is UTC (RFC 5322 3.3), JST +09:00.
_DATE_ZONE = re.compile(r"(-0000|JST)\s*(?:\([^()]*\))?\s*$", re.IGNORECASE)
_ZONES = {"-0000": timedelta(0), "JST": timedelta(hours=9)}


@attrs.frozen
class Attachment:
    """A part of the message that is not its text: a file, an inline image, a forwarded
    message. ``filename`` is decoded and reduced to its last path component (``None``
    when the part has none); ``size`` is the decoded content's length in bytes."""

    filename: str | None
    content_type: str
    size: int


@attrs.frozen
class InboundEmail:
    """An inbound e-mail, normalised. See :func:`parse_email` for how each field is read."""

    from_address: str
    from_name: str | None = None
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    subject: str = ""
    sent_at: datetime | None = None
    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    text: str = ""
    reply_text: str = ""
    attachments: tuple[Attachment, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The first header called ``name`` (case-insensitive), unfolded but not decoded
        (encoded words stay as sent), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


def parse_email(raw: bytes | str, *, max_bytes: int = MAX_EMAIL_BYTES) -> InboundEmail:
    """Parse a raw RFC 5322 message (bytes as received; a ``str`` is encoded as UTF-8).

    - ``from_address`` is the first address of From, its domain lower-cased and its local
      part as written; ``from_name`` its decoded display name. ``to``, ``cc`` and
      ``reply_to`` hold the addresses of those headers, normalised alike.
    - ``subject`` is decoded (RFC 2047, any charset), ``""`` when missing.
    - ``sent_at`` is the Date header in UTC; None when missing, unparseable or without a
      time zone (``-0000`` counts as UTC, ``JST`` as +09:00).
    - ``message_id``, ``in_reply_to`` and ``references`` are message ids without angle
      brackets; ``references`` keeps the header's order (oldest first).
    - ``text`` is the first text/plain part that is not an attachment, else the first
      text/html part converted to text; line endings are ``\\n`` and trailing white space
      is removed. ``reply_text`` is ``text`` without the quoted previous message.
    - ``attachments`` lists every other part (not the alternatives of the text).

    :raises ValidationError: ``message`` when the input is empty, larger than
        ``max_bytes``, not bytes or str, or cannot be parsed at all; ``from`` when no From
        header holds an e-mail address.
    """
    message = _parse(_as_bytes(raw, max_bytes))
    headers = _HeaderMap(message)
    from_name, from_address = _sender(headers)
    leaves = _leaves(message)
    body = _body(leaves)
    text = _text_of(body) if body is not None else ""
    return InboundEmail(
        from_address=from_address,
        from_name=from_name,
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        reply_to=_addresses(headers, "reply-to"),
        subject=charsets.clean(charsets.decode_words(headers.first("subject") or "")).strip(),
        sent_at=_sent_at(headers.first("date")),
        message_id=_first_id(headers.first("message-id")),
        in_reply_to=_first_id(headers.first("in-reply-to")),
        references=_ids(headers.first("references")),
        text=text,
        reply_text=reply_text(text),
        attachments=tuple(_attachment(leaf) for leaf in _others(leaves, body)),
        headers=tuple((name, charsets.clean(_header_text(value)))
                      for name, value in message.raw_items()),
    )


# -- input -----------------------------------------------------------------------------


def _as_bytes(raw: object, max_bytes: int) -> bytes:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValidationError("max_bytes", f"expected a positive integer, got {max_bytes!r}")
    if isinstance(raw, str):
        if len(raw) > max_bytes:
            raise _too_large(len(raw), max_bytes)
        try:
            raw = raw.encode("utf-8")
        except UnicodeEncodeError:
            raise ValidationError("message", "is a str with a lone surrogate; pass the "
                                             "message's bytes instead") from None
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise ValidationError("message", f"expected bytes or str, got {type(raw).__name__}")
    if len(raw) > max_bytes:
        raise _too_large(len(raw), max_bytes)
    raw = raw.lstrip(b"\r\n")
    if not raw.strip():
        raise ValidationError("message", "is empty")
    return raw


def _too_large(size: int, max_bytes: int) -> ValidationError:
    return ValidationError("message", f"is {size:,} bytes, more than the limit of "
                                      f"{max_bytes:,} (max_bytes)")


def _parse(data: bytes) -> Message:
    try:
        return BytesParser(policy=email.policy.default).parsebytes(data)
    except RecursionError:
        raise ValidationError("message", "is nested too deeply to parse") from None
    except Exception as exc:  # the parser registers defects; this is a last resort
        raise ValidationError("message", f"cannot be parsed as an e-mail: {exc}") from None


# -- headers ---------------------------------------------------------------------------


def _header_text(value: str) -> str:
    """A raw header value unfolded, with 8-bit bytes (RFC 6532 UTF-8, or a raw Japanese
    charset) and raw ISO-2022-JP escape sequences decoded."""
    value = _LINE_BREAK.sub("\n", value)
    value = _FOLD.sub("", value).replace("\n", "")
    if value.isascii() and "\x1b" not in value:
        return value
    try:
        data = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return charsets.clean(value)
    return charsets.decode_bytes(data)


class _HeaderMap:
    """A part's raw headers by lower-cased name, read once; values decoded on access."""

    def __init__(self, part: Message) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in part.raw_items():
            self._values.setdefault(name.lower(), []).append(value)

    def all(self, name: str) -> list[str]:
        """Every header ``name`` as text (unfolded, encoded words kept)."""
        return [_header_text(value) for value in self._values.get(name, ())]

    def first(self, name: str) -> str | None:
        """The first header ``name`` as text, or None."""
        values = self._values.get(name)
        return _header_text(values[0]) if values else None


def _sender(headers: _HeaderMap) -> tuple[str | None, str]:
    values = headers.all("from")
    for name, address in _parse_addresses(values):
        return name, address
    if not values:
        raise ValidationError("from", "is missing: an e-mail needs a From header")
    raise ValidationError("from", "holds no e-mail address")


def _addresses(headers: _HeaderMap, name: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(address for _, address in _parse_addresses(headers.all(name))))


def _parse_addresses(values: list[str]) -> Iterable[tuple[str | None, str]]:
    """(display name, normalised address) pairs; entries without an address are skipped.
    Only the first :data:`MAX_ADDRESS_TEXT` characters are read (up to a comma)."""
    text = ", ".join(values)
    if len(text) > MAX_ADDRESS_TEXT:
        text = text[:max(0, text.rfind(",", 0, MAX_ADDRESS_TEXT))]
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:  # a malformed header yields no address rather than an error
        return
    for name, address in pairs:
        normal = _normal_address(address)
        if normal is not None:
            display = charsets.clean(charsets.decode_words(name)).strip()
            yield display or None, normal


def _normal_address(address: str) -> str | None:
    """``local@domain`` with the domain lower-cased, or None when it is not an address."""
    address = charsets.clean(address).strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() or c in "<>" for c in address):
        return None
    return f"{local}@{domain.lower()}"


def _sent_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            zone = _DATE_ZONE.search(value)
            if zone is None:
                return None
            when = when.replace(tzinfo=timezone(_ZONES[zone.group(1).upper()]))
        return when.astimezone(timezone.utc)
    except (ValueError, TypeError, IndexError, OverflowError, KeyError):
        return None


def _first_id(value: str | None) -> str | None:
    ids = _ids(value)
    return ids[0] if ids else None


def _ids(value: str | None) -> tuple[str, ...]:
    """Message ids in order, without brackets; bare ids (with an ``@``) are accepted."""
    if not value:
        return ()
    found = _MESSAGE_ID.findall(value) or [
        token for token in re.split(r"[\s,]+", value) if "@" in token and "<" not in token]
    return tuple(dict.fromkeys(charsets.clean(token) for token in found if charsets.clean(token)))


# -- structure -------------------------------------------------------------------------


class _Leaf:
    """A part not walked into, its headers, its content type, the multipart/alternative
    parts around it, and whether it may hold the message's text."""

    def __init__(self, part: Message, alternatives: tuple[int, ...], root: bool) -> None:
        self.part = part
        self.headers = _HeaderMap(part)
        self.content_type = _content_type(part, self.headers)
        self.alternatives = alternatives
        self.filename = _filename(self.headers)
        self.kind = self._text_kind(root)

    def _text_kind(self, root: bool) -> str | None:
        """"plain", "html" or "raw" (a multipart whose parts were not found) when the part
        may hold the message's text; None for attachments."""
        disposition = (self.headers.first("content-disposition") or "").split(";")[0]
        if disposition.strip().lower() == "attachment" or (
                not root and self.filename is not None):
            return None
        if self.content_type in ("text/plain", "text/html"):
            return self.content_type[5:]
        if self.content_type.startswith("multipart/") and not self.part.is_multipart():
            return "raw"
        return None


def _leaves(message: Message) -> list[_Leaf]:
    """The leaf parts in document order; message/* parts are leaves (not walked into)."""
    leaves: list[_Leaf] = []
    stack: list[tuple[Message, tuple[int, ...], int]] = [(message, (), 0)]
    while stack:
        part, alternatives, depth = stack.pop()
        children = part.get_payload() if part.is_multipart() else None
        content_type = _content_type(part, _HeaderMap(part)) if children else ""
        if (isinstance(children, list) and content_type.startswith("multipart/")
                and depth < MAX_DEPTH):
            if content_type == "multipart/alternative":
                alternatives = (*alternatives, id(part))
            stack.extend((child, alternatives, depth + 1) for child in reversed(children)
                         if isinstance(child, Message))
        else:
            leaves.append(_Leaf(part, alternatives, depth == 0))
    return leaves


def _content_type(part: Message, headers: _HeaderMap) -> str:
    """The lower-cased ``type/subtype`` of ``part``, read as the standard library does."""
    value = headers.first("content-type")
    if value is None:
        return part.get_default_type()
    content_type = charsets.clean(value.split(";", 1)[0]).strip().lower()
    return content_type if content_type.count("/") == 1 else "text/plain"


def _body(leaves: Sequence[_Leaf]) -> _Leaf | None:
    """The part holding the text: the first text/plain, else text/html, else raw."""
    found: dict[str, _Leaf] = {}
    for leaf in leaves:
        if leaf.kind is not None:
            found.setdefault(leaf.kind, leaf)
    return found.get("plain") or found.get("html") or found.get("raw")


def _others(leaves: Sequence[_Leaf], body: _Leaf | None) -> Iterable[_Leaf]:
    """The leaves that are neither the body nor a text alternative of it."""
    group = body.alternatives[-1] if body is not None and body.alternatives else None
    for leaf in leaves:
        if leaf is body:
            continue
        if group is not None and group in leaf.alternatives and leaf.kind is not None:
            continue
        yield leaf


def _text_of(leaf: _Leaf) -> str:
    charset = _param(leaf.headers, "content-type", "charset")
    text = charsets.decode_bytes(_payload_bytes(leaf), charset)
    if leaf.kind == "html":
        text = html_to_text(text)
    return charsets.tidy(text)


def _payload_bytes(leaf: _Leaf) -> bytes:
    """The decoded content of a leaf part; damaged base64 gives what can be read."""
    part = leaf.part
    try:
        if part.is_multipart():
            return b"".join(_serialised(child) for child in part.get_payload())
        encoding = (leaf.headers.first("content-transfer-encoding") or "").strip().lower()
        if encoding == "base64":
            payload = part.get_payload()
            return charsets.lenient_base64(payload.encode("ascii", "ignore")) if isinstance(
                payload, str) else b""
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def _serialised(part: object) -> bytes:
    if not isinstance(part, Message):
        return b""
    try:
        return part.as_bytes(policy=email.policy.compat32)
    except Exception:
        return b""


def _param(headers: _HeaderMap, header: str, name: str) -> str | None:
    """Parameter ``name`` of ``header``, decoded (RFC 2231 and RFC 2047), or None."""
    value = headers.first(header)
    if value is None:
        return None
    holder = email.message.Message()  # compat32: parameters read as written
    holder[header] = value
    try:
        param = holder.get_param(name, header=header)
    except Exception:
        return None
    if isinstance(param, tuple):  # RFC 2231: (charset, language, percent-decoded text)
        charset, _, text = param
        try:
            return charsets.clean(charsets.decode_bytes(text.encode("latin-1"), charset))
        except UnicodeEncodeError:
            return charsets.clean(text)
    return charsets.clean(charsets.decode_words(param)) if isinstance(param, str) else None


def _filename(headers: _HeaderMap) -> str | None:
    name = (_param(headers, "content-disposition", "filename")
            or _param(headers, "content-type", "name"))
    if name is None:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None


def _attachment(leaf: _Leaf) -> Attachment:
    return Attachment(filename=leaf.filename, content_type=leaf.content_type,
                      size=len(_payload_bytes(leaf)))
