"""The parsed form of a message template: a tree of frozen nodes, its error and its limits.

The parser (:mod:`ecrm.domain.template_parser`) builds these; the renderer
(:mod:`ecrm.domain.templates`) walks them. Nothing here runs code from the template.
"""

from __future__ import annotations

import attrs

from ecrm.errors import ValidationError

#: A template's text may be at most this many characters (64 KiB).
MAX_TEMPLATE = 64 * 1024
#: Blocks (``if``/``for``) and expressions (parentheses, ``not``) nest at most this deep.
MAX_DEPTH = 16
#: One string or number literal in a template may be at most this many characters.
MAX_LITERAL = 1_000
#: Number literals may have at most this many digits.
MAX_DIGITS = 30


class TemplateError(ValidationError):
    """A template that cannot be parsed or rendered. ``line`` and ``column`` (1-based) point
    at the problem in the template text when it has a place; ``field`` is ``"template"``."""

    def __init__(self, message: str, line: int | None = None,
                 column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = "" if line is None else f"line {line}, column {column}: "
        super().__init__("template", where + message)


@attrs.frozen
class Place:
    """Where a piece of the template starts (1-based line and column)."""

    line: int
    column: int

    def error(self, message: str) -> TemplateError:
        """A :class:`TemplateError` at this place."""
        return TemplateError(message, self.line, self.column)


# -- expressions --------------------------------------------------------------------------

@attrs.frozen
class Literal:
    """A string, number, ``true``, ``false`` or ``none`` written in the template."""

    value: object


@attrs.frozen
class Path:
    """A variable and the keys (``str``) and list indexes (``int``) after it:
    ``items[0].sku`` is ``Path("items", (0, "sku"))``. ``local`` marks a loop variable or
    ``loop``, which come from the template rather than the context."""

    root: str
    steps: tuple[str | int, ...]
    place: Place
    local: bool = False

    @property
    def text(self) -> str:
        """The path as written: ``items[0].sku``."""
        return self.root + "".join(f"[{s}]" if isinstance(s, int) else f".{s}"
                                   for s in self.steps)


@attrs.frozen
class FilterCall:
    """One ``| name(args)`` step of a filter chain."""

    name: str
    args: tuple[Expression, ...]
    place: Place


@attrs.frozen
class Filtered:
    """A value passed through filters left to right."""

    value: Expression
    filters: tuple[FilterCall, ...]


@attrs.frozen
class Compare:
    """``left op right`` with ``op`` one of ``== != < <= > >= in``, ``not in``."""

    op: str
    left: Expression
    right: Expression
    place: Place


@attrs.frozen
class Negation:
    """``not operand``."""

    operand: Expression


@attrs.frozen
class Logical:
    """``a and b and ...`` or ``a or b or ...`` (``op`` is ``"and"`` or ``"or"``)."""

    op: str
    operands: tuple[Expression, ...]


Expression = Literal | Path | Filtered | Compare | Negation | Logical


# -- statements ---------------------------------------------------------------------------

@attrs.frozen
class Text:
    """Template text copied to the output as it is."""

    text: str


@attrs.frozen
class Output:
    """``{{ expression }}``. ``escaped`` is true when the chain ends in ``escape``, so
    autoescaping does not escape it twice."""

    expression: Expression
    place: Place
    escaped: bool = False


@attrs.frozen
class Branch:
    """One ``if``/``elif`` condition and the body it guards."""

    condition: Expression
    body: tuple[Node, ...]


@attrs.frozen
class If:
    """``{% if %}…{% elif %}…{% else %}…{% endif %}``."""

    branches: tuple[Branch, ...]
    otherwise: tuple[Node, ...]


@attrs.frozen
class For:
    """``{% for target in iterable %}…{% else %}…{% endfor %}``; ``otherwise`` renders when
    the list is empty."""

    target: str
    iterable: Expression
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...]
    place: Place


Node = Text | Output | If | For
