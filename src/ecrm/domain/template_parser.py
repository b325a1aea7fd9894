"""The parser of message templates: text in, a tree of :mod:`template_nodes` out.

A hand-written recursive-descent parser over the parts and tokens of
:mod:`template_lexer` (no ``eval``). Every problem raises :class:`TemplateError` naming the line and
column. The grammar is in ``docs/templates.md``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from ecrm.domain.template_filters import check_filter
from ecrm.domain.template_lexer import TAGS, Part, Token, split
from ecrm.domain.template_nodes import (
    MAX_DEPTH,
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

_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "none"})
_CONSTANTS = {"true": True, "false": False, "none": None}
_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=", "in")
_CLOSERS = {"if": "endif", "for": "endfor"}


# -- expressions --------------------------------------------------------------------------

class _ExpressionParser:
    """Parses the tokens of one tag. ``local`` names the loop variables in scope."""

    def __init__(self, tokens: tuple[Token, ...], local: Collection[str]) -> None:
        self.tokens = tokens
        self.index = 0
        self.local = local

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def is_(self, *words: str) -> bool:
        token = self.token
        return token.kind in ("name", "symbol") and token.text in words

    def take(self, *words: str) -> Token:
        if not self.is_(*words):
            self.fail(f"expected {' or '.join(repr(w) for w in words)}")
        return self.advance()

    def advance(self) -> Token:
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

    def name(self, what: str) -> Token:
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

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self.index = 0
        self.local: list[str] = []

    def template(self) -> tuple[Node, ...]:
        nodes, _ = self._body(0, None)
        return nodes

    def _body(self, depth: int, block: Part | None,
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
    def _keyword(part: Part) -> str:
        token = part.tokens[0]
        if token.kind != "name":
            raise token.place.error(f"expected a tag name ({TAGS})")
        return token.text

    def _block(self, keyword: str, part: Part, depth: int,
               closers: tuple[str, ...]) -> Node:
        if keyword in ("if", "for"):
            if depth >= MAX_DEPTH:
                raise part.place.error(f"blocks nest deeper than {MAX_DEPTH} levels")
            return self._if(part, depth + 1) if keyword == "if" else self._for(part, depth + 1)
        if keyword in ("elif", "else", "endif", "endfor", "endraw"):
            expected = f"; expected {' or '.join(repr(c) for c in closers)}" if closers else ""
            raise part.place.error(f"unexpected '{keyword}'{expected}")
        raise part.place.error(f"unknown tag {keyword!r}; the tags are {TAGS}")

    def _output(self, part: Part) -> Output:
        parser = _ExpressionParser(part.tokens, self.local)
        if parser.token.kind == "end":
            parser.fail("expected a value")
        expression = parser.expression()
        parser.end()
        escaped = isinstance(expression, Filtered) and \
            expression.filters[-1].name in ("escape", "e")
        return Output(expression, part.place, escaped)

    def _condition(self, part: Part) -> Expression:
        parser = _ExpressionParser(part.tokens, self.local)
        parser.advance()
        condition = parser.expression()
        parser.end()
        return condition

    def _if(self, part: Part, depth: int) -> If:
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

    def _for(self, part: Part, depth: int) -> For:
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
    def _bare(part: Part) -> None:
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
    return _BlockParser(split(source)).template()
