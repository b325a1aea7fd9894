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

import base64
import codecs
import email.message
import email.policy
import email.utils
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from email.message import Message
from email.parser import BytesParser
from html import unescape

import attrs

from ecrm.errors import ValidationError

#: The largest message :func:`parse_email` accepts by default: 10 MiB.
MAX_EMAIL_BYTES = 10 * 1024 * 1024
#: Multipart nesting deeper than this is not walked (its parts count as one attachment).
MAX_DEPTH = 32
#: Address headers (From, To, Cc, Reply-To) are read up to this many characters.
MAX_ADDRESS_TEXT = 100_000

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"\r\n?")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_CHUNK = re.compile(rb"[^=]+=*")
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
        subject=_clean(_decode_words(headers.first("subject") or "")).strip(),
        sent_at=_sent_at(headers.first("date")),
        message_id=_first_id(headers.first("message-id")),
        in_reply_to=_first_id(headers.first("in-reply-to")),
        references=_ids(headers.first("references")),
        text=text,
        reply_text=reply_text(text),
        attachments=tuple(_attachment(leaf) for leaf in _others(leaves, body)),
        headers=tuple((name, _clean(_header_text(value)))
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


# -- text cleaning and decoding --------------------------------------------------------


def _clean(value: str) -> str:
    """``value`` without NUL characters and lone surrogates (which no backend stores)."""
    return _UNSTORABLE.sub("", value)


def _tidy(value: str) -> str:
    """Storable text with ``\\n`` line endings and no trailing white space."""
    return _clean(_LINE_BREAK.sub("\n", value)).rstrip()


#: Decoders tried strictly, in order, for a declared charset (by codec name); the last
#: element decodes with replacement characters when none fits. "jis" is ISO-2022-JP read
#: through CP932, which knows the NEC and IBM extensions (①, ㈱, 髙) Windows clients send.
_CHAINS: dict[str, tuple[tuple[str, ...], str]] = {
    "iso2022_jp": (("iso2022_jp", "jis", "iso2022_jp_2004", "iso2022_jp_ext"), "jis"),
    "shift_jis": (("shift_jis", "cp932", "shift_jis_2004"), "cp932"),
    "cp932": (("cp932", "shift_jis_2004"), "cp932"),
    "shift_jis_2004": (("shift_jis_2004", "cp932"), "cp932"),
    "euc_jp": (("euc_jp", "euc_jis_2004"), "euc_jp"),
    "iso8859-1": (("cp1252",), "latin-1"),
    "gb2312": (("gb18030",), "gb18030"),
    "gbk": (("gb18030",), "gb18030"),
    "euc_kr": (("cp949",), "cp949"),
}
#: Labels mail clients use that Python does not know, by the codec they mean.
_LABELS = {
    "windows-31j": "cp932", "x-sjis": "cp932", "sjis-open": "cp932", "x-ms-cp932": "cp932",
    "sjis-win": "cp932", "cp943c": "cp932", "x-euc-jp": "euc_jp", "eucjp-ms": "euc_jp",
    "euc-jp-ms": "euc_jp", "cp50220": "iso2022_jp", "cp50221": "iso2022_jp",
    "cp50222": "iso2022_jp", "iso-2022-jp-ms": "iso2022_jp", "csiso2022jp": "iso2022_jp",
}
#: Codecs a charset label must not select: slow, or not meant for untrusted bytes.
_REFUSED = frozenset({"punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined",
                      "mbcs", "oem"})
_GUESS = (("utf-8", "euc_jp", "cp932"), "utf-8")
_GUESS_JIS = _CHAINS["iso2022_jp"]


def _decode_bytes(data: bytes, charset: str | None = None) -> str:
    """``data`` as text in ``charset``, falling back to the likely Japanese encodings when
    the charset is missing, unknown or ``us-ascii``; never raises (bytes no decoder
    accepts become U+FFFD)."""
    strict, fallback = _chain(charset, data)
    for name in strict:
        try:
            return _decode_with(data, name, "strict")
        except (UnicodeError, LookupError):
            continue
    return _decode_with(data, fallback, "replace")


def _chain(charset: str | None, data: bytes) -> tuple[tuple[str, ...], str]:
    name = _codec(charset)
    if name is None or name == "ascii":  # ascii: often a default that 8-bit text ignores
        return _GUESS_JIS if b"\x1b$" in data or b"\x1b(" in data else _GUESS
    return _CHAINS.get(name, ((name,), name))


def _codec(label: str | None) -> str | None:
    """The Python codec a charset label names, or None (missing, unknown or refused)."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _LABELS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except (LookupError, ValueError, TypeError):
        return None
    try:
        b"a".decode(name)
    except LookupError:  # base64, rot13, zlib...: codecs that do not decode bytes to text
        return None
    except UnicodeError:
        pass
    return None if name in _REFUSED else name


def _decode_with(data: bytes, name: str, errors: str) -> str:
    if name == "jis":
        return _jis_via_cp932(data, errors)
    return data.decode(name, errors)


_JIS_ESCAPE = re.compile(rb"(\x1b(?:\$@|\$B|\(B|\(J|\(I|\$\(D|\$\(O|\$\(Q|\$\(P|\$A|\.A|N))")
_JIS_MODES = {b"\x1b$@": "kanji", b"\x1b$B": "kanji", b"\x1b(B": "ascii", b"\x1b(J": "ascii",
              b"\x1b(I": "kana"}


def _jis_via_cp932(data: bytes, errors: str) -> str:
    """ISO-2022-JP as Windows sends it (CP50220): JIS X 0208 rows, the NEC and IBM
    extensions and half-width katakana, each converted to CP932 and decoded."""
    out, mode = bytearray(), "ascii"
    for piece in _JIS_ESCAPE.split(data):
        if piece.startswith(b"\x1b") and _JIS_ESCAPE.fullmatch(piece):
            mode = _JIS_MODES.get(piece, "other")
            if mode == "other" and errors == "strict":
                raise UnicodeDecodeError("jis", data, 0, 1, "unsupported escape sequence")
            continue
        if mode == "kanji":
            out += _jis_pairs_to_sjis(piece)
        elif mode == "kana":
            out += bytes(b + 0x80 if 0x21 <= b <= 0x5F else b for b in piece)
        elif mode == "ascii":
            out += piece
    return out.decode("cp932", errors)


def _jis_pairs_to_sjis(piece: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(piece):
        first = piece[i]
        if not 0x21 <= first <= 0x7E or i + 1 >= len(piece):
            out.append(first)  # a line break or a stray byte inside kanji mode
            i += 1
            continue
        second = piece[i + 1]
        lead = ((first + 1) >> 1) + 0x70
        lead += 0x40 if lead > 0x9F else 0
        odd_row = first & 1
        trail = second + 0x1F + (second >= 0x60) if odd_row else second + 0x7E
        out += bytes((lead, trail & 0xFF))
        i += 2
    return bytes(out)


def _decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded.

    Adjacent encoded words in one charset are joined before decoding, so a character split
    across two words (which Japanese mailers do) survives; white space between encoded
    words is dropped, as RFC 2047 says. Encoded words inside quotes are decoded too.
    """
    parts: list[str | tuple[str, list[bytes]]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position:match.start()]
        if between and not (between.isspace() and parts and isinstance(parts[-1], tuple)):
            parts.append(between)
        charset = match.group(1).split("*", 1)[0]
        data = _word_bytes(match.group(2), match.group(3))
        previous = parts[-1] if parts else None
        if isinstance(previous, tuple) and previous[0].lower() == charset.lower():
            previous[1].append(data)
        else:
            parts.append((charset, [data]))
        position = match.end()
    parts.append(value[position:])
    return "".join(part if isinstance(part, str) else _decode_bytes(b"".join(part[1]), part[0])
                   for part in parts)


def _word_bytes(kind: str, text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if kind in "Bb":
        return _lenient_base64(data)
    return _QP_BYTE.sub(lambda m: bytes((int(m.group(1), 16),)), data.replace(b"_", b" "))


def _lenient_base64(data: bytes) -> bytes:
    """Base64 decoded as far as it goes: junk characters are skipped, a broken length is
    mended and padding in the middle (chunks encoded apart and joined) starts a new chunk,
    so a damaged part keeps what can be read."""
    return b"".join(_base64_chunk(chunk)
                    for chunk in _BASE64_CHUNK.findall(_NOT_BASE64.sub(b"", data)))


def _base64_chunk(chunk: bytes) -> bytes:
    body = chunk.rstrip(b"=")
    if len(body) % 4 == 1:
        body = body[:-1]
    return base64.b64decode(body + b"=" * (-len(body) % 4))


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
        return _clean(value)
    return _decode_bytes(data)


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
    shown = _clean(values[0])[:80] if values else None
    if shown is None:
        raise ValidationError("from", "is missing: an e-mail needs a From header")
    raise ValidationError("from", f"{shown!r} holds no e-mail address")


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
            display = _clean(_decode_words(name)).strip()
            yield display or None, normal


def _normal_address(address: str) -> str | None:
    """``local@domain`` with the domain lower-cased, or None when it is not an address."""
    address = _clean(address).strip()
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
    return tuple(dict.fromkeys(_clean(token) for token in found if _clean(token)))


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
    content_type = _clean(value.split(";", 1)[0]).strip().lower()
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
    text = _decode_bytes(_payload_bytes(leaf), charset)
    if leaf.kind == "html":
        text = html_to_text(text)
    return _tidy(text)


def _payload_bytes(leaf: _Leaf) -> bytes:
    """The decoded content of a leaf part; damaged base64 gives what can be read."""
    part = leaf.part
    try:
        if part.is_multipart():
            return b"".join(_serialised(child) for child in part.get_payload())
        encoding = (leaf.headers.first("content-transfer-encoding") or "").strip().lower()
        if encoding == "base64":
            payload = part.get_payload()
            return _lenient_base64(payload.encode("ascii", "ignore")) if isinstance(
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
            return _clean(_decode_bytes(text.encode("latin-1"), charset))
        except UnicodeEncodeError:
            return _clean(text)
    return _clean(_decode_words(param)) if isinstance(param, str) else None


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


# -- HTML ------------------------------------------------------------------------------

#: A comment's start, a tag, or a declaration (``<!DOCTYPE ...>``, ``<?xml ...?>``). The
#: possessive quantifiers keep the search linear on broken markup.
_MARKUP = re.compile(r"<!--|<(/?)([A-Za-z][A-Za-z0-9:-]*+)[^<>]*+>|<[!?][^<>]*+>")
_SPACES = re.compile(r"[ \t\r\n\f]+")
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td",
    "th", "thead", "tr", "ul"})
#: Elements whose content is not text, each with the pattern of its end tag.
_HIDDEN = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE)
           for name in ("script", "style", "title", "template")}


def html_to_text(html: str) -> str:
    """The text of an HTML mail body: tags dropped, ``<br>`` and block elements (``p``,
    ``div``, ``li``, ``tr``, ...) as line breaks, entities unescaped, ``script``,
    ``style`` and comments left out, and ``blockquote`` contents quoted with ``> `` like a
    plain-text reply. It reads the markup in one pass (time linear in its length, however
    broken it is)."""
    lines = _Lines()
    position = 0
    while (markup := _MARKUP.search(html, position)) is not None:
        lines.write(html[position:markup.start()])
        position = _skip(html, markup, lines)
    lines.write(html[position:])
    return lines.text()


def _skip(html: str, markup: re.Match[str], lines: _Lines) -> int:
    """Apply ``markup``; return where the text resumes (after a comment or hidden element,
    which run to the end of ``html`` when they are not closed)."""
    if markup.group() == "<!--":
        end = html.find("-->", markup.end())
        return len(html) if end < 0 else end + 3
    if markup.group(2) is None:  # a declaration
        return markup.end()
    closing, name = markup.group(1) == "/", markup.group(2).lower()
    if name in _HIDDEN and not closing:
        end_tag = _HIDDEN[name].search(html, markup.end())
        return len(html) if end_tag is None else end_tag.end()
    lines.tag(name, closing)
    return markup.end()


class _Lines:
    """Lines of text gathered from HTML, each quoted by its blockquote depth."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._pre = 0

    def write(self, data: str) -> None:
        """Add character data (entities still escaped)."""
        if not data:
            return
        data = unescape(data)
        if not self._pre:
            self._add(_SPACES.sub(" ", data))
            return
        first, *rest = data.replace("\r\n", "\n").split("\n")
        self._add(first)
        for line in rest:
            self._end_line(keep_empty=True)
            self._add(line)

    def tag(self, name: str, closing: bool) -> None:
        """Apply a start or end tag: a line break for ``br`` and block elements."""
        if name == "br":
            if not closing:
                self._end_line(keep_empty=True)
            return
        if name not in _BLOCKS:
            return
        self._end_line()
        step = -1 if closing else 1
        if name == "pre":
            self._pre = max(0, self._pre + step)
        elif name == "blockquote":
            self._quote_depth = max(0, self._quote_depth + step)

    def text(self) -> str:
        """The lines gathered, runs of blank lines cut to one."""
        self._end_line()
        return re.sub(r"\n{3,}", "\n\n", "\n".join(self._lines)).strip("\n")

    def _add(self, text: str) -> None:
        if text and not self._line:
            self._line_depth = self._quote_depth
        self._line.append(text)

    def _end_line(self, *, keep_empty: bool = False) -> None:
        line = "".join(self._line)
        line = (line.rstrip(" ") if self._pre else line.strip(" ")).replace("\xa0", " ")
        depth = self._line_depth if self._line else self._quote_depth
        if line or keep_empty:
            self._lines.append(("> " * depth + line).rstrip(" "))
        self._line = []


# -- replies ---------------------------------------------------------------------------

_ORIGINAL = re.compile(r"^-{2,}\s*(original message|元のメッセージ|オリジナル・?メッセージ)"
                       r"\s*-{2,}$", re.IGNORECASE)
_ENGLISH_ATTRIBUTION = re.compile(r"^On\s.+\swrote\s*:$", re.IGNORECASE)
_JAPANESE_ENDING = re.compile(r"(のメッセージ|のメール|さんは書きました|さんが書きました"
                              r"|が書きました)\s*[:：]$")
_JAPANESE_DATE = re.compile(r"^\d{4}\s*[年/.\-]\s*\d{1,2}\s*[月/.\-]\s*\d{1,2}")
_ADDRESS_IN_BRACKETS = re.compile(r"[<＜]\s*[^<>＜＞\s]+@[^<>＜＞\s]+\s*[>＞]")
_TIME = re.compile(r"\d{1,2}:\d{2}")
_YEAR = re.compile(r"(?<!\d)(19|20)\d\d(?!\d)")
_HEADER_FROM = re.compile(r"^(from|差出人|送信者)\s*[:：]", re.IGNORECASE)
_HEADER_SENT = re.compile(r"^(sent|date|送信日時|日時|日付)\s*[:：]", re.IGNORECASE)
_RULE = re.compile(r"^_{10,}$")
_COLONS = (":", "：")


def reply_text(text: str) -> str:
    """``text`` without the quoted previous message, for showing a reply in a case.

    It drops lines starting with ``>``, and everything from the first reply header: an
    attribution line (``On ... wrote:``, ``2026年1月1日(木) 10:00 Shop <a@b>:``,
    ``...のメッセージ:``, ``...さんは書きました:``, possibly wrapped over two lines), an
    ``-----Original Message-----`` or ``-----元のメッセージ-----`` separator, or an Outlook
    header block (``From:`` / ``差出人:`` followed by ``Sent:`` / ``送信日時:``).

    It is conservative: when nothing is left above the reply header (a reply written
    below or between the quotes), only the quoted lines and the attribution lines go. The
    result is empty only when every line of ``text`` is quoted or blank.
    """
    lines = text.split("\n")
    cut = _reply_header(lines)
    if cut is None:
        return _unquoted(lines)
    above = _unquoted(lines[:cut])
    if above:
        return above
    attributions = set(_attribution_lines(lines))
    kept = _unquoted(line for i, line in enumerate(lines) if i not in attributions)
    return kept or _unquoted(lines)


def _unquoted(lines: Iterable[str]) -> str:
    """The lines not quoted, runs of blank lines cut to one, stripped."""
    kept: list[str] = []
    for line in lines:
        if _quoted(line):
            continue
        if line.strip():
            kept.append(line)
        elif kept and kept[-1]:
            kept.append("")
    return "\n".join(kept).strip()


def _reply_header(lines: Sequence[str]) -> int | None:
    """The index of the first line of the first reply header, or None."""
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped[0] == ">":
            continue
        if _ORIGINAL.match(stripped) or _attribution_at(lines, i):
            return i
        if _HEADER_FROM.match(stripped) and any(
                _HEADER_SENT.match(following.strip()) for following in lines[i + 1:i + 5]):
            return _rule_above(lines, i)
    return None


def _rule_above(lines: Sequence[str], i: int) -> int:
    """``i``, or the index of an underscore rule just above it (Outlook draws one)."""
    above = i - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above if above >= 0 and _RULE.match(lines[above].strip()) else i


def _attribution_lines(lines: Sequence[str]) -> Iterable[int]:
    for i in range(len(lines)):
        if not _quoted(lines[i]) and _attribution_at(lines, i):
            yield i
            if not _is_attribution(lines[i].strip()):
                yield i + 1  # the second half of a wrapped attribution


def _attribution_at(lines: Sequence[str], i: int) -> bool:
    """Whether an attribution starts at line ``i`` (alone, or wrapped onto the next)."""
    line = lines[i].strip()
    if not line:
        return False
    if _is_attribution(line):
        return True
    following = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return (following.endswith(_COLONS) and not following.startswith(">")
            and not _is_attribution(following) and _is_attribution(f"{line} {following}"))


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _is_attribution(line: str) -> bool:
    """Whether ``line`` reads like a client's "On <date>, <sender> wrote:" line: the
    wording alone is not enough, it must name an address, a time or a year too."""
    if not line.endswith(_COLONS):
        return False
    address = _ADDRESS_IN_BRACKETS.search(line) is not None
    if _JAPANESE_DATE.match(line) and address:
        return True
    marked = address or _TIME.search(line) is not None or _YEAR.search(line) is not None
    return marked and bool(_ENGLISH_ATTRIBUTION.match(line) or _JAPANESE_ENDING.search(line))
