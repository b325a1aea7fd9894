"""The parser of message templates: text in, a tree of :mod:`template_nodes` out.

A hand-written lexer and recursive-descent parser (no ``eval``, no regular expression
over the whole template). Every problem raises :class:`TemplateError` naming the line and
column. The grammar is in ``docs/templates.md``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Collection
from decimal import Decimal
from typing import NoReturn

import attrs

from ecrm.domain.template_filters import check_filter
from ecrm.domain.template_nodes import (
    MAX_DEPTH,
    MAX_DIGITS,
    MAX_LITERAL,
    MAX_TEMPLATE,
    Branch,
    Compare,
    Expression,
    FilterCall,
    Filtered,
    For,
    If,
    Literal,
    Logical,
    Negation,
    Node,
    Output,
    Path,
    Place,
    TemplateError,
    Text,
)

_OPENING = re.compile(r"\{[{%#]")
_END_RAW = re.compile(r"\{%-?[ \t\r\n]*endraw[ \t\r\n]*(-?)%\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"[ \t\r\n]+")
_SYMBOLS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ".", "|", ",", "-")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "none"})
_CONSTANTS = {"true": True, "false": False, "none": None}
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "in")
_TAGS = "if, elif, else, endif, for, endfor and raw"
_TAG_NAMES = frozenset({"if", "elif", "else", "endif", "for", "endfor", "raw", "endraw"})
_CLOSERS = {"if": "endif", "for": "endfor"}


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
class _Token:
    kind: str  # name, string, number, symbol, end
    text: str
    place: Place
    value: object = None


@attrs.frozen
class _Part:
    kind: str  # text, output, tag
    place: Place
    text: str = ""
    tokens: tuple[_Token, ...] = ()


# -- lexing -------------------------------------------------------------------------------

class _Lexer:
    """Splits the template into text, ``{{ }}`` and ``{% %}`` parts; drops comments."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.places = _Places(source)
        self.parts: list[_Part] = []
        self.position = 0
        self.strip_next = False

    def run(self) -> list[_Part]:
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
            self.parts.append(_Part("text", self.places.at(self.position), text=text))
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
        part = _Part("output" if kind == "{" else "tag", self.places.at(start), tokens=tokens)
        if kind == "%" and [t.text for t in tokens] == ["raw", ""]:
            self._raw(start)
        else:
            self.parts.append(part)

    def _known_tag(self, inside: int, start: int) -> None:
        """An unknown tag is named as such, before whatever follows it fails to lex."""
        space = _SPACE.match(self.source, inside)
        name = _NAME.match(self.source, space.end() if space else inside)
        if name and name.group() not in _TAG_NAMES:
            raise self.places.error(start, f"unknown tag {name.group()!r}; the tags are {_TAGS}")

    def _raw(self, start: int) -> None:
        end = _END_RAW.search(self.source, self.position)
        if end is None:
            raise self.places.error(start, "'raw' is not closed; end it with '{% endraw %}'")
        text = self.source[self.position:end.start()]
        if text:
            self.parts.append(_Part("text", self.places.at(self.position), text=text))
        self.position = end.end()
        self.strip_next = end.group(1) == "-"

    def _tokens(self, position: int, closer: str, start: int) -> tuple[_Token, ...]:
        source, tokens = self.source, []
        while position < len(source):
            if space := _SPACE.match(source, position):
                position = space.end()
                continue
            if source.startswith(closer, position) or source.startswith("-" + closer, position):
                self.strip_next = source[position] == "-"
                tokens.append(_Token("end", "", self.places.at(position)))
                self.position = position + len(closer) + self.strip_next
                return tuple(tokens)
            token = self._token(position)
            tokens.append(token)
            position += len(token.text)
        opened = "{{" if closer == "}}" else "{%"
        raise self.places.error(start, f"'{opened}' is not closed; end it with '{closer}'")

    def _token(self, position: int) -> _Token:
        source, place = self.source, self.places.at(position)
        char = source[position]
        if char in "\"'":
            value, end = self._string(position)
            return _Token("string", source[position:end], place, value)
        if number := _NUMBER.match(source, position):
            return _Token("number", number.group(), place, self._number(number.group(), place))
        if name := _NAME.match(source, position):
            return _Token("name", name.group(), place)
        symbol = next((s for s in _SYMBOLS if source.startswith(s, position)), None)
        if symbol is None:
            raise place.error(f"unexpected character {char!r}")
        return _Token("symbol", symbol, place)

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


# -- expressions --------------------------------------------------------------------------

class _ExpressionParser:
    """Parses the tokens of one tag. ``local`` names the loop variables in scope."""

    def __init__(self, tokens: tuple[_Token, ...], local: Collection[str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.local = local

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def is_(self, *words: str) -> bool:
        token = self.token
        return token.kind in ("name", "symbol") and token.text in words

    def take(self, *words: str) -> _Token:
        if not self.is_(*words):
            self.fail(f"expected {' or '.join(repr(w) for w in words)}")
        return self.advance()

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def fail(self, message: str) -> NoReturn:
        token = self.token
        found = "the end of the tag" if token.kind == "end" else repr(token.text)
        raise token.place.error(f"{message}, found {found}")

    def end(self) -> None:
        if self.token.kind != "end":
            self.fail("expected the end of the tag")

    def name(self, what: str) -> _Token:
        """A name that is not a keyword and does not start with ``_``."""
        token = self.token
        if token.kind != "name" or token.text in _KEYWORDS:
            self.fail(f"expected {what}")
        check_name(token.text, token.place)
        return self.advance()

    def expression(self, depth: int = 0) -> Expression:
        return self._joined("or", depth)

    def _joined(self, word: str, depth: int) -> Expression:
        operand = self._joined_and if word == "or" else self._negation
        operands = [operand(depth)]
        while self.is_(word):
            self.advance()
            operands.append(operand(depth))
        return operands[0] if len(operands) == 1 else Logical(word, tuple(operands))

    def _joined_and(self, depth: int) -> Expression:
        return self._joined("and", depth)

    def _negation(self, depth: int) -> Expression:
        if self.is_("not"):
            self._deeper(depth)
            self.advance()
            return Negation(self._negation(depth + 1))
        return self._comparison(depth)

    def _deeper(self, depth: int) -> None:
        if depth >= MAX_DEPTH:
            raise self.token.place.error(f"the expression nests deeper than {MAX_DEPTH} levels")

    def _comparison(self, depth: int) -> Expression:
        left = self._filtered(depth)
        place = self.token.place
        if self.is_(*_COMPARISONS):
            op = self.advance().text
        elif self.is_("not") and self.tokens[self.index + 1].text == "in":
            self.index += 2
            op = "not in"
        else:
            return left
        return Compare(op, left, self._filtered(depth), place)

    def _filtered(self, depth: int) -> Expression:
        value = self._primary(depth)
        filters = []
        while self.is_("|"):
            self.advance()
            filters.append(self._filter_call(depth))
        return Filtered(value, tuple(filters)) if filters else value

    def _filter_call(self, depth: int) -> FilterCall:
        token = self.token
        if token.kind != "name":
            self.fail("expected a filter name")
        self.advance()
        args: list[Expression] = []
        if self.is_("("):
            self.advance()
            while not self.is_(")"):
                if args:
                    self.take(",")
                args.append(self._argument(token.text, depth))
            self.advance()
        problem = check_filter(token.text, [a.value if isinstance(a, Literal) else a
                                            for a in args])
        if problem:
            raise token.place.error(problem)
        return FilterCall(token.text, tuple(args), token.place)

    def _argument(self, filter_name: str, depth: int) -> Expression:
        if filter_name == "default":
            self._deeper(depth)
            return self.expression(depth + 1)
        literal = self._literal()
        if literal is None:
            self.fail("expected a literal value (a quoted string, a number, true, false "
                      "or none)")
        return literal

    def _primary(self, depth: int) -> Expression:
        if self.is_("("):
            self._deeper(depth)
            self.advance()
            inner = self.expression(depth + 1)
            self.take(")")
            return inner
        literal = self._literal()
        if literal is not None:
            return literal
        return self._path()

    def _literal(self) -> Literal | None:
        token = self.token
        if token.kind in ("string", "number"):
            self.advance()
            return Literal(token.value)
        if self.is_("-"):
            self.advance()
            if self.token.kind != "number":
                self.fail("expected a number after '-'")
            return Literal(-self.advance().value)  # type: ignore[operator]
        if token.kind == "name" and token.text in _CONSTANTS:
            self.advance()
            return Literal(_CONSTANTS[token.text])
        return None

    def _path(self) -> Path:
        root = self.name("a value (a name, a quoted string, a number, true, false or none)")
        steps: list[str | int] = []
        while self.is_(".", "["):
            if self.advance().text == ".":
                token = self.token
                if token.kind != "name":
                    self.fail("expected a key name after '.'")
                check_name(token.text, token.place)
                steps.append(self.advance().text)
            else:
                if self.token.kind != "number" or not isinstance(self.token.value, int):
                    self.fail("expected a list index (a whole number) after '['")
                steps.append(self.advance().value)  # type: ignore[arg-type]
                self.take("]")
        return Path(root.text, tuple(steps), root.place, local=root.text in self.local)


def check_name(name: str, place: Place) -> None:
    """Refuse names that start with ``_``: nothing private is reachable, by construction."""
    if name.startswith("_"):
        raise place.error(f"names starting with '_' are not allowed: {name!r}")


# -- blocks -------------------------------------------------------------------------------

class _BlockParser:
    """Turns the lexer's parts into nodes, matching ``if``/``for`` with their ends."""

    def __init__(self, parts: list[_Part]) -> None:
        self.parts = parts
        self.index = 0
        self.local: list[str] = []

    def template(self) -> tuple[Node, ...]:
        nodes, _ = self._body(0, None)
        return nodes

    def _body(self, depth: int, block: _Part | None,
              closers: tuple[str, ...] = ()) -> tuple[tuple[Node, ...], str]:
        nodes: list[Node] = []
        while self.index < len(self.parts):
            part = self.parts[self.index]
            self.index += 1
            if part.kind == "text":
                nodes.append(Text(part.text))
            elif part.kind == "output":
                nodes.append(self._output(part))
            else:
                keyword = self._keyword(part)
                if keyword in closers:
                    return tuple(nodes), keyword
                nodes.append(self._block(keyword, part, depth, closers))
        if block is not None:
            opened = block.tokens[0].text
            raise block.place.error(f"'{opened}' is not closed; end it with "
                                    f"'{{% {_CLOSERS[opened]} %}}'")
        return tuple(nodes), ""

    @staticmethod
    def _keyword(part: _Part) -> str:
        token = part.tokens[0]
        if token.kind != "name":
            raise token.place.error(f"expected a tag name ({_TAGS})")
        return token.text

    def _block(self, keyword: str, part: _Part, depth: int,
               closers: tuple[str, ...]) -> Node:
        if keyword in ("if", "for"):
            if depth >= MAX_DEPTH:
                raise part.place.error(f"blocks nest deeper than {MAX_DEPTH} levels")
            return self._if(part, depth + 1) if keyword == "if" else self._for(part, depth + 1)
        if keyword in ("elif", "else", "endif", "endfor", "endraw"):
            expected = f"; expected {' or '.join(repr(c) for c in closers)}" if closers else ""
            raise part.place.error(f"unexpected '{keyword}'{expected}")
        raise part.place.error(f"unknown tag {keyword!r}; the tags are {_TAGS}")

    def _output(self, part: _Part) -> Output:
        parser = _ExpressionParser(part.tokens, self.local)
        if parser.token.kind == "end":
            parser.fail("expected a value")
        expression = parser.expression()
        parser.end()
        escaped = isinstance(expression, Filtered) and \
            expression.filters[-1].name in ("escape", "e")
        return Output(expression, part.place, escaped)

    def _condition(self, part: _Part) -> Expression:
        parser = _ExpressionParser(part.tokens, self.local)
        parser.advance()
        condition = parser.expression()
        parser.end()
        return condition

    def _if(self, part: _Part, depth: int) -> If:
        branches = []
        opening, closer = part, "elif"
        while closer == "elif":
            condition = self._condition(part)
            body, closer = self._body(depth, opening, ("elif", "else", "endif"))
            branches.append(Branch(condition, body))
            part = self.parts[self.index - 1]
        otherwise: tuple[Node, ...] = ()
        if closer == "else":
            self._bare(part)
            otherwise, _ = self._body(depth, opening, ("endif",))
        self._bare(self.parts[self.index - 1])
        return If(tuple(branches), otherwise)

    def _for(self, part: _Part, depth: int) -> For:
        parser = _ExpressionParser(part.tokens, self.local)
        parser.advance()
        target = parser.name("a loop variable name")
        if target.text == "loop":
            raise target.place.error("'loop' is taken by the loop's own counters; "
                                     "choose another name")
        parser.take("in")
        iterable = parser.expression()
        parser.end()
        self.local += [target.text, "loop"]
        body, closer = self._body(depth, part, ("else", "endfor"))
        del self.local[-2:]
        otherwise: tuple[Node, ...] = ()
        if closer == "else":
            self._bare(self.parts[self.index - 1])
            otherwise, _ = self._body(depth, part, ("endfor",))
        self._bare(self.parts[self.index - 1])
        return For(target.text, iterable, body, otherwise, part.place)

    @staticmethod
    def _bare(part: _Part) -> None:
        """``else``, ``endif`` and ``endfor`` take nothing after the keyword."""
        if part.tokens[1].kind != "end":
            token = part.tokens[1]
            raise token.place.error(f"'{part.tokens[0].text}' takes nothing after it, "
                                    f"found {token.text!r}")


def parse(source: str) -> tuple[Node, ...]:
    """The nodes of ``source``; any problem raises :class:`TemplateError`."""
    if not isinstance(source, str):
        raise TemplateError(f"expected a string, got {type(source).__name__}")
    if len(source) > MAX_TEMPLATE:
        raise TemplateError(f"is {len(source):,} characters long; at most {MAX_TEMPLATE:,}")
    return _BlockParser(_Lexer(source).run()).template()
