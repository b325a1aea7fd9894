"""Sandboxed message templates for campaign and journey messages (e-mail, LINE, SMS).

Shop staff write templates; ecrm renders them per customer::

    >>> from ecrm.domain.templates import Template
    >>> Template.parse("{{ name | default('お客様') }}様").render({"name": None})
    'お客様様'

The renderer only ever looks up keys in plain dicts and indexes in plain lists of plain
values (see :mod:`ecrm.domain.template_context`) and calls only the fixed filters of
:mod:`ecrm.domain.template_filters`. It has no attribute access, no other calls, no
include, import or assignment, and it stops with a :class:`TemplateError` when the output,
the loops or the work pass their limits. The syntax is in ``docs/templates.md``.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
from typing import cast

import attrs

from ecrm.domain.template_compare import compare
from ecrm.domain.template_context import check_context
from ecrm.domain.template_filters import FilterFailure, apply_filter, display, kind
from ecrm.domain.template_nodes import (
    Compare,
    Expression,
    Filtered,
    For,
    If,
    Literal,
    Logical,
    Negation,
    Node,
    Output,
    Path,
    TemplateError,
    Text,
)
from ecrm.domain.template_parser import parse

#: The rendered text may be at most this many characters (256 Ki).
MAX_OUTPUT = 256 * 1024
#: One ``for`` may loop over at most this many items ...
MAX_LOOP = 1_000
#: ... and one rendering may run at most this many loop iterations in all.
MAX_ITERATIONS = 10_000
#: One rendering may take at most this many steps: one per node and expression, and
#: more for comparisons and filters over long text and lists (see ``_cost``).
MAX_STEPS = 1_000_000

#: Filters whose work does not grow with their value.
_CONSTANT_TIME_FILTERS = frozenset({"default", "length", "first", "last"})


def _cost(value: object) -> int:
    """Steps that comparing or filtering ``value`` costs: one at least, one more per item
    of a list or mapping, and one more per 64 characters of text, so that a loop cannot
    repeat large work without bound."""
    if type(value) is str:
        return 1 + len(value) // 64  # type: ignore[arg-type]
    if type(value) in (list, tuple, dict):
        return 1 + len(value)  # type: ignore[arg-type]
    return 1


class _Missing:
    """A path the context does not hold (only ``default`` may turn it into a value)."""


_MISSING = _Missing()


@attrs.frozen(init=False)
class Template:
    """A parsed message template: ``Template(source)`` or :meth:`Template.parse`; render
    it as often as needed with :meth:`render`."""

    source: str
    autoescape: bool
    _nodes: tuple[Node, ...] = attrs.field(eq=False, repr=False)
    _straight: tuple[Text | Output, ...] | None = attrs.field(eq=False, repr=False)

    def __init__(self, source: str, *, autoescape: bool = False) -> None:
        """Parse ``source`` once; a problem raises :class:`TemplateError` (a
        ``ValidationError`` on the field ``"template"``) naming the line and column.
        With ``autoescape`` (for HTML bodies) every ``{{ }}`` output is HTML-escaped."""
        nodes = parse(source)
        self.__attrs_init__(source, autoescape, nodes, _straight_line(nodes))

    @classmethod
    def parse(cls, source: str, *, autoescape: bool = False) -> Template:
        """The same as ``Template(source, autoescape=autoescape)``."""
        return cls(source, autoescape=autoescape)

    def render(self, context: Mapping[str, object]) -> str:
        """The text for ``context``, a mapping of plain values (str, int, float, Decimal,
        bool, None, date, aware datetime, and dicts/lists/tuples of those). Other values
        raise ``ValidationError("context", ...)``; an undefined path, a filter that does
        not fit its value or a broken limit raises :class:`TemplateError`."""
        return self._render_plain(check_context(context))

    @staticmethod
    def render_each(templates: Sequence[Template | None], context: Mapping[str, object]
                    ) -> list[str | None]:
        """Render each of ``templates`` (None stays None) with one ``context``, checked
        once: a message's subject, text and HTML for one recipient."""
        plain = check_context(context)
        return [None if t is None else t._render_plain(plain) for t in templates]

    def _render_plain(self, plain: dict[str, object]) -> str:
        if self._straight is not None:
            return _render_straight(self._straight, plain, self.autoescape)
        renderer = _Renderer(plain, self.autoescape)
        renderer.nodes(self._nodes)
        return "".join(renderer.out)

    def names(self) -> frozenset[str]:
        """The context paths the template uses, as written (``customer.name``,
        ``items[0].sku``); loop variables and ``loop`` are not among them."""
        return frozenset(path.text for node in self._nodes for path in _paths(node)
                         if not path.local)


def _paths(item: Node | Expression) -> Iterator[Path]:
    """Every path in a node or expression, depth first."""
    if isinstance(item, Path):
        yield item
    children: tuple[Node | Expression, ...] = ()
    if isinstance(item, Output):
        children = (item.expression,)
    elif isinstance(item, If):
        children = tuple(part for branch in item.branches
                         for part in (branch.condition, *branch.body)) + item.otherwise
    elif isinstance(item, For):
        children = (item.iterable, *item.body, *item.otherwise)
    elif isinstance(item, Filtered):
        children = (item.value, *(arg for call in item.filters for arg in call.args))
    elif isinstance(item, Compare):
        children = (item.left, item.right)
    elif isinstance(item, Negation):
        children = (item.operand,)
    elif isinstance(item, Logical):
        children = item.operands
    for child in children:
        yield from _paths(child)


def _straight_line(nodes: tuple[Node, ...]) -> tuple[Text | Output, ...] | None:
    """``nodes`` when they are text and ``{{ path }}`` outputs only (most subjects and
    bodies), else None. Such a template has no loop and at most 64 Ki characters (the
    parser's limit), so its steps stay far below :data:`MAX_STEPS` and it can be
    rendered without counting them."""
    for node in nodes:
        if not (type(node) is Text or (type(node) is Output and
                                       type(node.expression) is Path)):
            return None
    return cast("tuple[Text | Output, ...]", nodes)


def _render_straight(nodes: tuple[Text | Output, ...], context: dict[str, object],
                     autoescape: bool) -> str:
    """What :class:`_Renderer` makes of straight-line ``nodes``, without its budgets."""
    out: list[str] = []
    for node in nodes:
        if type(node) is Text:
            out.append(node.text)
            continue
        assert isinstance(node, Output) and isinstance(node.expression, Path)
        value = _resolve(context.get(node.expression.root, _MISSING), node.expression)
        if value is _MISSING:
            raise _undefined(node.expression)
        try:
            text = display(value)
        except FilterFailure as failure:
            raise node.place.error(str(failure)) from None
        out.append(html.escape(text) if autoescape and not node.escaped else text)
    rendered = "".join(out)
    if len(rendered) > MAX_OUTPUT:
        raise TemplateError(f"the output is longer than {MAX_OUTPUT:,} characters")
    return rendered


class _Renderer:
    """One rendering: the checked context, the loop scopes, the output and the budgets."""

    def __init__(self, context: dict[str, object], autoescape: bool) -> None:
        self.context = context
        self.autoescape = autoescape
        self.scopes: list[dict[str, object]] = []
        self.out: list[str] = []
        self.size = 0
        self.iterations = 0
        self.steps = 0

    def _step(self) -> None:
        self._charge(None)

    def _charge(self, *values: object) -> None:
        """Count the work of comparing or filtering ``values`` against the step budget."""
        self.steps += sum(_cost(value) for value in values)
        if self.steps > MAX_STEPS:
            raise TemplateError(f"rendering took more than {MAX_STEPS:,} steps")

    def _emit(self, text: str) -> None:
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            raise TemplateError(f"the output is longer than {MAX_OUTPUT:,} characters")
        self.out.append(text)

    # -- statements -----------------------------------------------------------------------

    def nodes(self, nodes: tuple[Node, ...]) -> None:
        for node in nodes:
            self._step()
            if isinstance(node, Text):
                self._emit(node.text)
            elif isinstance(node, Output):
                self._output(node)
            elif isinstance(node, If):
                self._if(node)
            else:
                self._for(node)

    def _output(self, node: Output) -> None:
        value = self.value(node.expression)
        try:
            text = display(value)
        except FilterFailure as failure:
            raise node.place.error(str(failure)) from None
        self._emit(html.escape(text) if self.autoescape and not node.escaped else text)

    def _if(self, node: If) -> None:
        for branch in node.branches:
            if self.truth(branch.condition):
                self.nodes(branch.body)
                return
        self.nodes(node.otherwise)

    def _for(self, node: For) -> None:
        items = self.value(node.iterable)
        if type(items) not in (list, tuple):
            raise node.place.error(f"for loops over a list, got {kind(items)}")
        items = cast("list[object]", items)
        count = len(items)
        if count > MAX_LOOP:
            raise node.place.error(f"the loop is over {count:,} items; at most {MAX_LOOP:,}")
        if not count:
            self.nodes(node.otherwise)
        for index, item in enumerate(items):
            self.iterations += 1
            if self.iterations > MAX_ITERATIONS:
                raise node.place.error(f"the loops ran more than {MAX_ITERATIONS:,} times")
            loop = {"index": index + 1, "first": index == 0, "last": index == count - 1,
                    "length": count}
            self.scopes.append({node.target: item, "loop": loop})
            self.nodes(node.body)
            self.scopes.pop()

    # -- expressions ----------------------------------------------------------------------

    def value(self, expression: Expression) -> object:
        """The value of ``expression``; an undefined path raises."""
        value = self._maybe(expression)
        if isinstance(value, _Missing):
            assert isinstance(expression, Path)
            raise _undefined(expression)
        return value

    def truth(self, expression: Expression) -> bool:
        """Whether ``expression`` holds: false, none, 0, empty text and empty lists do not."""
        return bool(self.value(expression))

    def _maybe(self, expression: Expression) -> object:
        self._step()
        if isinstance(expression, Literal):
            return expression.value
        if isinstance(expression, Path):
            return self._lookup(expression)
        if isinstance(expression, Filtered):
            return self._filtered(expression)
        if isinstance(expression, Compare):
            left, right = self.value(expression.left), self.value(expression.right)
            self._charge(left, right)
            return compare(expression.op, left, right, expression.place)
        if isinstance(expression, Negation):
            return not self.truth(expression.operand)
        truths = (self.truth(operand) for operand in expression.operands)
        return all(truths) if expression.op == "and" else any(truths)

    def _lookup(self, path: Path) -> object:
        if path.local:
            value = next(scope[path.root] for scope in reversed(self.scopes)
                         if path.root in scope)
        else:
            value = self.context.get(path.root, _MISSING)
        return _resolve(value, path)

    def _filtered(self, expression: Filtered) -> object:
        value = self._maybe(expression.value)
        for call in expression.filters:
            if call.name == "default":
                if isinstance(value, _Missing) or value is None or value == "":
                    value = self.value(call.args[0])
                continue
            if isinstance(value, _Missing):
                assert isinstance(expression.value, Path)
                raise _undefined(expression.value)
            arguments = [self.value(argument) for argument in call.args]
            try:
                result = apply_filter(call.name, value, arguments)
            except FilterFailure as failure:
                raise call.place.error(str(failure)) from None
            if call.name not in _CONSTANT_TIME_FILTERS:
                self._charge(value, result)
            value = result
        return value


def _undefined(path: Path) -> TemplateError:
    return path.place.error(f"undefined: {path.text}")


def _resolve(value: object, path: Path) -> object:
    """Follow the steps of ``path`` from ``value`` (its root); _MISSING past an absent
    or None value."""
    for step in path.steps:
        if value is None or value is _MISSING:
            return _MISSING
        value = _step_into(value, step, path)
    return value


def _step_into(value: object, step: str | int, path: Path) -> object:
    """``value[step]`` for a list index or a mapping key; _MISSING when absent."""
    if isinstance(step, int):
        if type(value) not in (list, tuple):
            raise path.place.error(f"{path.text}: [{step}] needs a list, got {kind(value)}")
        items: list[object] = value  # type: ignore[assignment]
        return items[step] if step < len(items) else _MISSING
    if type(value) is not dict:
        raise path.place.error(f"{path.text}: .{step} needs a mapping, got {kind(value)}")
    return value.get(step, _MISSING)  # type: ignore[attr-defined]
