"""The lexer of message templates: splits the text into plain text, ``{{ }}`` and
``{% %}`` parts (comments dropped, ``raw`` blocks turned into text, ``-`` trimming done)
and the inside of each tag into tokens. Problems raise :class:`TemplateError` with the
line and column.
"""

from __future__ import annotations

import bisect
import re
from decimal import Decimal

import attrs

from ecrm.domain.template_nodes import MAX_DIGITS, MAX_LITERAL, Place, TemplateError

_OPENING = re.compile(r"\{[{%#]")
_END_RAW = re.compile(r"\{%-?[ \t\r\n]*endraw[ \t\r\n]*(-?)%\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"[ \t\r\n]+")
_SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ".", "|", ",", "-")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
#: The tags there are, as error messages list them.
TAGS = "if, elif, else, endif, for, endfor and raw"
_TAG_NAMES = frozenset({"if", "elif", "else", "endif", "for", "endfor", "raw", "endraw"})


class _Places:
    """Turns an offset in the template into a line and column."""

    def __init__(self, source: str) -> None:
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def at(self, position: int) -> Place:
        line = bisect.bisect_right(self.line_starts, position)
        return Place(line, position - self.line_starts[line - 1] + 1)

    def error(self, position: int, message: str) -> TemplateError:
        return self.at(position).error(message)


@attrs.frozen
class Token:
    """One token inside a tag; ``value`` is a string's or number's value."""

    kind: str  # name, string, number, symbol, end
    text: str
    place: Place
    value: object = None


@attrs.frozen
class Part:
    """Plain text, or the tokens of one ``{{ }}`` (``output``) or ``{% %}`` (``tag``)."""

    kind: str  # text, output, tag
    place: Place
    text: str = ""
    tokens: tuple[Token, ...] = ()


# -- lexing -------------------------------------------------------------------------------

class _Lexer:
    """Splits the template into text, ``{{ }}`` and ``{% %}`` parts; drops comments."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.places = _Places(source)
        self.parts: list[Part] = []
        self.position = 0
        self.strip_next = False

    def run(self) -> list[Part]:
        while self.position < len(self.source):
            opening = _OPENING.search(self.source, self.position)
            end = opening.start() if opening else len(self.source)
            trim_before = opening is not None and self.source.startswith("-", end + 2)
            self._text(end, trim_before)
            if opening is None:
                break
            self._tag(end, trim_before)
        return self.parts

    def _text(self, end: int, trim_before: bool) -> None:
        text = self.source[self.position:end]
        if self.strip_next:
            text = text.lstrip()
        if trim_before:
            text = text.rstrip()
        if text:
            self.parts.append(Part("text", self.places.at(self.position), text=text))
        self.strip_next = False
        self.position = end

    def _tag(self, start: int, trim_before: bool) -> None:
        kind = self.source[start + 1]
        inside = start + 2 + trim_before
        if kind == "#":
            close = self.source.find("#}", inside)
            if close < 0:
                raise self.places.error(start, "the comment is not closed; end it with '#}'")
            self.strip_next = close > inside and self.source[close - 1] == "-"
            self.position = close + 2
            return
        closer = "}}" if kind == "{" else "%}"
        try:
            tokens = self._tokens(inside, closer, start)
        except TemplateError:
            if kind == "%":
                self._known_tag(inside, start)
            raise
        part = Part("output" if kind == "{" else "tag", self.places.at(start), tokens=tokens)
        if kind == "%" and [t.text for t in tokens] == ["raw", ""]:
            self._raw(start)
        else:
            self.parts.append(part)

    def _known_tag(self, inside: int, start: int) -> None:
        """An unknown tag is named as such, before whatever follows it fails to lex."""
        space = _SPACE.match(self.source, inside)
        name = _NAME.match(self.source, space.end() if space else inside)
        if name and name.group() not in _TAG_NAMES:
            raise self.places.error(start, f"unknown tag {name.group()!r}; the tags are {TAGS}")

    def _raw(self, start: int) -> None:
        end = _END_RAW.search(self.source, self.position)
        if end is None:
            raise self.places.error(start, "'raw' is not closed; end it with '{% endraw %}'")
        text = self.source[self.position:end.start()]
        if text:
            self.parts.append(Part("text", self.places.at(self.position), text=text))
        self.position = end.end()
        self.strip_next = end.group(1) == "-"

    def _tokens(self, position: int, closer: str, start: int) -> tuple[Token, ...]:
        source, tokens = self.source, []
        while position < len(source):
            if space := _SPACE.match(source, position):
                position = space.end()
                continue
            if source.startswith(closer, position) or source.startswith("-" + closer, position):
                self.strip_next = source[position] == "-"
                tokens.append(Token("end", "", self.places.at(position)))
                self.position = position + len(closer) + self.strip_next
                return tuple(tokens)
            token = self._token(position)
            tokens.append(token)
            position += len(token.text)
        opened = "{{" if closer == "}}" else "{%"
        raise self.places.error(start, f"'{opened}' is not closed; end it with '{closer}'")

    def _token(self, position: int) -> Token:
        source, place = self.source, self.places.at(position)
        char = source[position]
        if char in "\"'":
            value, end = self._string(position)
            return Token("string", source[position:end], place, value)
        if number := _NUMBER.match(source, position):
            return Token("number", number.group(), place, self._number(number.group(), place))
        if name := _NAME.match(source, position):
            return Token("name", name.group(), place)
        symbol = next((s for s in _SYMBOLS if source.startswith(s, position)), None)
        if symbol is None:
            raise place.error(f"unexpected character {char!r}")
        return Token("symbol", symbol, place)

    @staticmethod
    def _number(digits: str, place: Place) -> int | Decimal:
        if len(digits.replace(".", "")) > MAX_DIGITS:
            raise place.error(f"the number has more than {MAX_DIGITS} digits")
        return Decimal(digits) if "." in digits else int(digits)

    def _string(self, start: int) -> tuple[str, int]:
        source, quote = self.source, self.source[start]
        parts: list[str] = []
        position = start + 1
        while position < len(source) and source[position] != quote:
            if len(parts) >= MAX_LITERAL:
                raise self.places.error(start, f"the string is longer than {MAX_LITERAL} "
                                               "characters")
            if source[position] == "\\":
                parts.append(self._escape(position))
                position += 6 if source.startswith("\\u", position) else 2
            else:
                parts.append(source[position])
                position += 1
        if position >= len(source):
            raise self.places.error(start, "the string is not closed")
        return "".join(parts), position + 1

    def _escape(self, position: int) -> str:
        code = self.source[position + 1:position + 2]
        if code == "u":
            digits = self.source[position + 2:position + 6]
            if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                return chr(int(digits, 16))
        elif code in _ESCAPES:
            return _ESCAPES[code]
        escape = self.source[position:position + 2]
        raise self.places.error(position, f"unknown escape {escape!r}")


def split(source: str) -> list[Part]:
    """The parts of ``source``, in order."""
    return _Lexer(source).run()
