"""Decoding the text of e-mail: charsets as Japanese mail really uses them (ISO-2022-JP
as Windows sends it, Shift_JIS / CP932, EUC-JP), RFC 2047 encoded words, lenient base64,
and cleaning text so that every backend can store it. Part of :mod:`ecrm.domain.inbound_email`;
pure functions, standard library only."""

from __future__ import annotations

import base64
import codecs
import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_LINE_BREAK = re.compile(r"\r\n?")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?]*)\?=")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/=]")
_BASE64_CHUNK = re.compile(rb"[^=]+=*")


def clean(value: str) -> str:
    """``value`` without NUL characters and lone surrogates (which no backend stores)."""
    return _UNSTORABLE.sub("", value)


def tidy(value: str) -> str:
    """Storable text with ``\\n`` line endings and no trailing white space."""
    return clean(_LINE_BREAK.sub("\n", value)).rstrip()


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


def decode_bytes(data: bytes, charset: str | None = None) -> str:
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


def decode_words(value: str) -> str:
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
    return "".join(part if isinstance(part, str) else decode_bytes(b"".join(part[1]), part[0])
                   for part in parts)


def _word_bytes(kind: str, text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    if kind in "Bb":
        return lenient_base64(data)
    return _QP_BYTE.sub(lambda m: bytes((int(m.group(1), 16),)), data.replace(b"_", b" "))


def lenient_base64(data: bytes) -> bytes:
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

