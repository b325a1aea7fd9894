"""Small SVG charts, written as text without any plotting library: a heat map and a bar
chart (stacked or grouped). Each returns one well-formed ``<svg>`` element with a
``viewBox`` (it scales to its container), an accessible name (``role="img"``,
``aria-label`` and a ``<title>``), a ``<title>`` tooltip on every mark, and every piece
of text escaped, so labels taken from the shop's data cannot break the markup."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable, Sequence

import attrs

from ecrm.errors import ValidationError
from ecrm.report.columns import clip

SVG_NS = "http://www.w3.org/2000/svg"
#: Series colours (colour-blind friendly, after Okabe and Ito), used in turn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000")
#: Heat map colours from no value to the highest value.
COOL, HOT = (239, 246, 255), (8, 48, 107)
#: Characters XML 1.0 cannot hold (control characters, lone surrogates, U+FFFE/FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Longest axis label, in display columns; the full text is in the tooltip.
LABEL_COLUMNS = 16
FONT = 'font-family="system-ui, sans-serif"'


def xml_text(text: str) -> str:
    """``text`` safe inside XML or HTML text and attribute values: ``&``, ``<``, ``>``
    and both quotes escaped, characters XML cannot hold replaced by U+FFFD."""
    return html.escape(_NOT_XML.sub("\ufffd", text), quote=True)


def number(value: float) -> str:
    """A coordinate with one decimal place. :raises ValueError: it is not finite."""
    if not math.isfinite(value):
        raise ValueError(f"coordinate {value!r} is not finite")
    return f"{value:.1f}"


def _checked(field: str, values: Sequence[float]) -> list[float]:
    out = [float(v) for v in values]
    if any(not math.isfinite(v) or v < 0 for v in out):
        raise ValidationError(field, "values must be finite and not negative")
    return out


def _open(title: str, width: float, height: float) -> list[str]:
    name = xml_text(title)
    return [f'<svg xmlns="{SVG_NS}" viewBox="0 0 {number(width)} {number(height)}" '
            f'role="img" aria-label="{name}" {FONT} font-size="12">',
            f"<title>{name}</title>"]


def _text(x: float, y: float, text: str, *, anchor: str = "middle", extra: str = "") -> str:
    return (f'<text x="{number(x)}" y="{number(y)}" text-anchor="{anchor}"{extra}>'
            f"{xml_text(text)}</text>")


def _rect(x: float, y: float, w: float, h: float, fill: str, tooltip: str,
          extra: str = "") -> str:
    return (f'<rect x="{number(x)}" y="{number(y)}" width="{number(w)}" '
            f'height="{number(h)}" fill="{fill}"{extra}><title>{xml_text(tooltip)}'
            "</title></rect>")


# -- heat map ----------------------------------------------------------------------------


@attrs.frozen
class HeatCell:
    """One cell of a heat map: its row and column (indexes), the value its colour
    follows (finite, not negative), the text written in it and its tooltip."""

    row: int
    column: int
    value: float
    label: str
    tooltip: str


def heat_colour(share: float) -> str:
    """The colour of a cell at ``share`` (0 to 1) of the map's highest value."""
    mixed = (round(c + (h - c) * share) for c, h in zip(COOL, HOT, strict=True))
    return "#{:02x}{:02x}{:02x}".format(*mixed)


def heatmap(*, title: str, rows: Sequence[str], columns: Sequence[str],
            cells: Sequence[HeatCell], row_title: str = "", column_title: str = "",
            cell_width: float = 52, cell_height: float = 26) -> str:
    """A heat map of ``rows`` x ``columns`` with a cell (a coloured ``<rect>`` with its
    label and tooltip) for each of ``cells``; places without a cell stay blank. Colours
    run from light (0) to dark (the highest value; all light when every value is 0).

    :raises ValidationError: a value that is negative or not finite (``cells``), or a
        cell outside the rows and columns.
    """
    values = _checked("cells", [cell.value for cell in cells])
    for cell in cells:
        if not (0 <= cell.row < len(rows) and 0 <= cell.column < len(columns)):
            raise ValidationError("cells", f"cell ({cell.row}, {cell.column}) is outside "
                                           f"{len(rows)} rows and {len(columns)} columns")
    top = max(values, default=0.0)
    left, head = 96.0, 46.0
    width = left + cell_width * max(1, len(columns)) + 10
    height = head + cell_height * max(1, len(rows)) + 10
    parts = _open(title, width, height)
    parts.append(_text(left, 16, column_title, anchor="start", extra=' font-weight="bold"'))
    parts.append(_text(8, 16, row_title, anchor="start", extra=' font-weight="bold"'))
    for i, name in enumerate(columns):
        parts.append(_text(left + cell_width * (i + 0.5), head - 8, clip(name, 8)))
    for j, name in enumerate(rows):
        parts.append(_text(left - 6, head + cell_height * (j + 0.5) + 4,
                           clip(name, LABEL_COLUMNS), anchor="end"))
    for cell, value in zip(cells, values, strict=True):
        share = value / top if top > 0 else 0.0
        x, y = left + cell_width * cell.column, head + cell_height * cell.row
        parts.append(_rect(x, y, cell_width - 2, cell_height - 2, heat_colour(share),
                           cell.tooltip, ' class="cell"'))
        ink = "#ffffff" if share > 0.55 else "#1a1a1a"
        parts.append(_text(x + (cell_width - 2) / 2, y + cell_height / 2 + 2, cell.label,
                           extra=f' fill="{ink}" pointer-events="none"'))
    return "\n".join([*parts, "</svg>"])


# -- bar chart ---------------------------------------------------------------------------


def _values(values: Iterable[float]) -> tuple[float, ...]:
    return tuple(values)


@attrs.frozen
class Series:
    """One series of a bar chart: its name (in the legend) and a value per category."""

    name: str
    values: tuple[float, ...] = attrs.field(converter=_values)


def bar_chart(*, title: str, categories: Sequence[str], series: Sequence[Series],
              stacked: bool = True, maximum: float | None = None,
              value_format: Callable[[float], str] = "{:,.0f}".format,
              plot_height: float = 220, slot_width: float = 56) -> str:
    """Bars per category for each series, stacked or side by side, heights proportional
    to the values on a scale from 0 to ``maximum`` (default: the highest bar), with a
    legend. Each bar is a ``<rect class="bar">`` whose tooltip names category, series
    and value (written by ``value_format``).

    :raises ValidationError: a series without one value per category, a value that is
        negative or not finite (``series``), or a negative or non-finite ``maximum``.
    """
    values = [_checked("series", s.values) for s in series]
    if any(len(v) != len(categories) for v in values):
        raise ValidationError("series", f"every series needs {len(categories)} values, "
                                        "one per category")
    # Heights are worked out on values divided by the largest one, so that sums of huge
    # values cannot overflow to infinity.
    unit = max((x for v in values for x in v), default=0.0) or 1.0
    shares = [[x / unit for x in v] for v in values]
    top = _scale_top(shares, stacked, maximum, len(categories), unit)
    left, head, legend = 84.0, 24.0, 18.0 * len(series)
    width = left + slot_width * max(1, len(categories)) + 10
    base = head + plot_height
    parts = _open(title, width, base + 40 + legend)
    parts += _axis(left, head, base, width, top * unit, value_format)
    inner = slot_width * 0.7
    for i, name in enumerate(categories):
        x = left + slot_width * i + (slot_width - inner) / 2
        parts.append(_text(x + inner / 2, base + 16, clip(name, 8)))
        y = base
        for k, s in enumerate(series):
            value = values[k][i]
            h = plot_height * min(shares[k][i], top) / top if top > 0 else 0.0
            tip = f"{name} - {s.name}: {value_format(value)}"
            colour = PALETTE[k % len(PALETTE)]
            if stacked:
                y -= h
                parts.append(_rect(x, y, inner, h, colour, tip, ' class="bar"'))
            else:
                w = inner / max(1, len(series))
                parts.append(_rect(x + w * k, base - h, w, h, colour, tip, ' class="bar"'))
    parts += _legend(series, left, base + 34)
    return "\n".join([*parts, "</svg>"])


def _scale_top(shares: list[list[float]], stacked: bool, maximum: float | None,
               categories: int, unit: float) -> float:
    """The top of the scale, in units of ``unit`` (the largest value)."""
    if maximum is not None:
        if not math.isfinite(maximum) or maximum < 0:
            raise ValidationError("maximum", "must be finite and not negative")
        return maximum / unit
    if stacked:
        return max((sum(v[i] for v in shares) for i in range(categories)), default=0.0)
    return max((x for v in shares for x in v), default=0.0)


def _axis(left: float, head: float, base: float, width: float, top: float,
          value_format: Callable[[float], str]) -> list[str]:
    parts = [f'<line x1="{number(left)}" y1="{number(base)}" x2="{number(width - 10)}" '
             f'y2="{number(base)}" stroke="#666"/>']
    for tick in (0.0, 0.5, 1.0):
        y = base - (base - head) * tick
        parts.append(f'<line x1="{number(left)}" y1="{number(y)}" x2="{number(width - 10)}" '
                     f'y2="{number(y)}" stroke="#ddd"/>')
        parts.append(_text(left - 4, y + 4, value_format(top * tick), anchor="end"))
    return parts


def _legend(series: Sequence[Series], left: float, top: float) -> list[str]:
    parts = []
    for k, s in enumerate(series):
        y = top + 18 * k
        parts.append(_rect(left, y - 10, 12, 12, PALETTE[k % len(PALETTE)], s.name))
        parts.append(_text(left + 18, y, clip(s.name, 40), anchor="start"))
    return parts
