"""The text form of segment rules: a small, safe parser (no ``eval``) and its printer.

::

    orders.count >= 3 and days_since_last_order <= 90
      and prefecture in ("東京都", "神奈川県")
      and not consent("ads") == false

Grammar (keywords are case-insensitive)::

    rule      := or
    or        := and ("or" and)*
    and       := unary ("and" unary)*
    unary     := "not" unary | "(" or ")" | condition
    condition := field [ "(" args ")" ] [ test ]     -- a bare field means "== true"
    args      := arg ("," arg)*        arg := name "=" literal | literal
    test      := ("==" | "=" | "!=" | "<" | "<=" | ">" | ">=") literal
               | ["not"] "in" "(" literal ("," literal)* ")"
               | "contains" string | "starts" "with" string | "ends" "with" string
               | "is" ["not"] "null"
    literal   := string | ["-"] number | "true" | "false"

Strings take single or double quotes and the escapes ``\\\\ \\" \\' \\n \\t \\uXXXX``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from ecrm.domain.segment_fields import FieldRegistry
from ecrm.domain.segment_rules import (
    LIST_OPS,
    MAX_DEPTH,
    MAX_LIST,
    MAX_TEXT,
    NULL_TESTS,
    And,
    Condition,
    Not,
    Op,
    Or,
    Rule,
    RuleError,
)


@attrs.frozen
class _Token:
    kind: str  # name, string, number, symbol, end
    text: str
    position: int
    value: Any = None


_SYMBOLS = ("==", "!=", "<=", ">=", "=", "<", ">", "(", ")", ",", "-")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_SPACE = re.compile(r"[ \t\r\n]+")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}
#: Control, format (bidi overrides, zero-width), surrogate and separator characters are
#: printed as escapes so the text shows what the rule holds.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "contains", "starts", "ends", "with", "is",
                       "null", "true", "false"})


def _tokens(text: str) -> Iterator[_Token]:
    position = 0
    while position < len(text):
        if space := _SPACE.match(text, position):
            position = space.end()
            continue
        char = text[position]
        if char in "\"'":
            value, end = _string(text, position)
            yield _Token("string", text[position:end], position, value)
            position = end
        elif number := _NUMBER.match(text, position):
            digits = number.group()
            yield _Token("number", digits, position,
                         Decimal(digits) if "." in digits else int(digits))
            position = number.end()
        elif name := _NAME.match(text, position):
            yield _Token("name", name.group(), position)
            position = name.end()
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, position)), None)
            if symbol is None:
                raise RuleError("rule", f"unexpected character {char!r}", position)
            yield _Token("symbol", symbol, position)
            position += len(symbol)
    yield _Token("end", "", len(text))


def _string(text: str, start: int) -> tuple[str, int]:
    quote, parts, position = text[start], [], start + 1
    while position < len(text):
        char = text[position]
        if char == quote:
            return "".join(parts), position + 1
        if char == "\\":
            parts.append(_escape(text, position))
            position += 6 if text.startswith("\\u", position) else 2
            continue
        parts.append(char)
        position += 1
    raise RuleError("rule", "the string is not closed", start)


def _escape(text: str, position: int) -> str:
    code = text[position + 1:position + 2]
    if code == "u":
        digits = text[position + 2:position + 6]
        if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            return chr(int(digits, 16))
    elif code in _ESCAPES:
        return _ESCAPES[code]
    raise RuleError("rule", f"unknown escape {text[position:position + 2]!r}", position)


class _Parser:
    def __init__(self, text: str, registry: FieldRegistry) -> None:
        self.tokens = list(_tokens(text))
        self.index = 0
        self.registry = registry
        self.positions: list[int] = []

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def _is(self, *words: str) -> bool:
        token = self.token
        text = token.text.lower() if token.kind == "name" else token.text
        return token.kind in ("name", "symbol") and text in words

    def _take(self, *words: str) -> _Token:
        if not self._is(*words):
            self._fail(f"expected {' or '.join(repr(w) for w in words)}")
        token = self.token
        self.index += 1
        return token

    def _fail(self, message: str) -> None:
        token = self.token
        found = "the end of the rule" if token.kind == "end" else repr(token.text)
        raise RuleError("rule", f"{message}, found {found}", token.position)

    def rule(self) -> Rule:
        rule = self._or(0)
        if self.token.kind != "end":
            self._fail("expected 'and', 'or' or the end of the rule")
        return rule

    def _or(self, level: int) -> Rule:
        return self._joined("or", Or, lambda: self._and(level))

    def _and(self, level: int) -> Rule:
        return self._joined("and", And, lambda: self._unary(level))

    def _joined(self, word: str, kind: type[And] | type[Or],
                operand: Callable[[], Rule]) -> Rule:
        parts = [operand()]
        while self._is(word):
            self.index += 1
            parts.append(operand())
        return parts[0] if len(parts) == 1 else kind(tuple(parts))

    def _unary(self, level: int) -> Rule:
        if level > MAX_DEPTH:
            raise RuleError("rule", f"nests deeper than {MAX_DEPTH} levels",
                            self.token.position)
        if self._is("not"):
            self.index += 1
            return Not(self._unary(level + 1))
        if self._is("("):
            self.index += 1
            inner = self._or(level + 1)
            self._take(")")
            return inner
        return self._condition()

    def _condition(self) -> Condition:
        token = self.token
        if token.kind != "name" or token.text.lower() in _KEYWORDS:
            self._fail("expected a field name")
        self.positions.append(token.position)
        self.index += 1
        try:
            field = self.registry.get(token.text)
        except RuleError as error:
            raise RuleError(error.field, error.message, token.position) from None
        args = self._args([p.name for p in field.params]) if self._is("(") else {}
        op, value = self._test()
        return Condition(token.text, op, value, args)

    def _args(self, names: list[str]) -> dict[str, Any]:
        self._take("(")
        args: dict[str, Any] = {}
        while not self._is(")"):
            if args:
                self._take(",")
            if self.token.kind == "name" and self.tokens[self.index + 1].text == "=":
                name = self.token.text
                self.index += 2
            elif len(args) < len(names):
                name = names[len(args)]
            else:
                self._fail("too many parameters")
            if name in args:
                self._fail(f"parameter {name!r} given twice")
            args[name] = self._literal()
        self._take(")")
        return args

    def _test(self) -> tuple[Op, Any]:
        if self._is("==", "=", "!=", "<", "<=", ">", ">="):
            text = self._take("==", "=", "!=", "<", "<=", ">", ">=").text
            return Op("==" if text == "=" else text), self._literal()
        if self._is("not", "in"):
            negated = self._take("not", "in").text.lower() == "not"
            if negated:
                self._take("in")
            return (Op.NOT_IN if negated else Op.IN), self._list()
        if self._is("contains"):
            self.index += 1
            return Op.CONTAINS, self._string()
        if self._is("starts", "ends"):
            word = self._take("starts", "ends").text.lower()
            self._take("with")
            return Op(f"{word} with"), self._string()
        if self._is("is"):
            self.index += 1
            negated = self._is("not")
            self.index += negated
            self._take("null")
            return (Op.IS_NOT_NULL if negated else Op.IS_NULL), None
        return Op.EQ, True

    def _list(self) -> tuple[Any, ...]:
        self._take("(")
        values = [self._literal()]
        while self._is(","):
            self.index += 1
            if self._is(")"):
                break
            values.append(self._literal())
            if len(values) > MAX_LIST:
                self._fail(f"the list holds more than {MAX_LIST} values")
        self._take(")")
        return tuple(values)

    def _string(self) -> str:
        if self.token.kind != "string":
            self._fail("expected a quoted string")
        self.index += 1
        return self.tokens[self.index - 1].value  # type: ignore[no-any-return]

    def _literal(self) -> Any:
        token = self.token
        if token.kind in ("string", "number"):
            self.index += 1
            return token.value
        if self._is("-"):
            self.index += 1
            if self.token.kind != "number":
                self._fail("expected a number after '-'")
            self.index += 1
            return -self.tokens[self.index - 1].value
        if self._is("true", "false"):
            self.index += 1
            return token.text.lower() == "true"
        self._fail("expected a value (a quoted string, a number, true or false)")
        raise AssertionError("unreachable")


def parse(text: str, registry: FieldRegistry) -> Rule:
    """The rule ``text`` describes, bound to ``registry``; any problem raises
    :class:`RuleError` with the position in the text."""
    if not isinstance(text, str):
        raise RuleError("rule", f"expected a string, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise RuleError("rule", f"is {len(text)} characters long; at most {MAX_TEXT}")
    if not text.strip():
        raise RuleError("rule", "is empty")
    parser = _Parser(text, registry)
    rule = parser.rule()
    return registry.bind(rule, parser.positions)


# -- printing -----------------------------------------------------------------------------

def to_text(rule: Rule) -> str:
    """The text form of ``rule``; ``parse(to_text(rule))`` gives ``rule`` back."""
    if isinstance(rule, Condition):
        return _condition_text(rule)
    if isinstance(rule, Not):
        inner = to_text(rule.part)
        return f"not {inner}" if isinstance(rule.part, (Condition, Not)) else f"not ({inner})"
    word = " and " if isinstance(rule, And) else " or "
    return word.join(_operand(part) for part in rule.parts)


def _operand(part: Rule) -> str:
    text = to_text(part)
    return f"({text})" if isinstance(part, (And, Or)) else text


def _condition_text(condition: Condition) -> str:
    head = condition.field
    if condition.args:
        head += "(" + ", ".join(f"{k}={_literal(v)}" for k, v in condition.args) + ")"
    if condition.op in NULL_TESTS:
        return f"{head} {condition.op.value}"
    if condition.op in LIST_OPS:
        values = ", ".join(_literal(v) for v in condition.value)
        return f"{head} {condition.op.value} ({values})"
    return f"{head} {condition.op.value} {_literal(condition.value)}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return _quoted(value.isoformat())
    return _quoted(str(value))


def _quoted(text: str) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in _HIDDEN and ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
