"""Text in terminal columns: full-width (East Asian wide) characters take two columns,
combining marks none, so tables of Japanese names stay aligned."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

#: Put where text was cut short: ASCII, because "…" is of ambiguous width and takes two
#: columns in many Japanese terminals.
ELLIPSIS = "~"


def char_width(char: str) -> int:
    """The columns one character takes: 2 for wide and full-width characters, 0 for
    combining marks and control characters, else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Cc", "Cf", "Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """The columns ``text`` takes in a terminal."""
    return sum(map(char_width, text))


def printable(text: str) -> str:
    """``text`` with line and paragraph separators, tabs and other control characters
    made spaces, so that one value stays on one line."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)


def clip(text: str, columns: int) -> str:
    """``text`` cut to at most ``columns`` columns, ending in :data:`ELLIPSIS` when cut."""
    if width(text) <= columns:
        return text
    kept, used = [], 0
    for char in text:
        w = char_width(char)
        if used + w > columns - 1:
            break
        kept.append(char)
        used += w
    return "".join(kept) + ELLIPSIS if columns >= 1 else ""


def pad(text: str, columns: int, *, right: bool = False) -> str:
    """``text`` clipped to ``columns`` and filled with spaces to exactly that width, on
    the right (left-aligned) or, with ``right``, on the left."""
    text = clip(text, columns)
    fill = " " * (columns - width(text))
    return fill + text if right else text + fill


def table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
          right: Sequence[bool], widest: int = 24) -> list[str]:
    """Aligned lines: the header, a rule, then the rows. Each column is as wide as its
    widest cell (at most ``widest`` columns); ``right[i]`` right-aligns column ``i``.
    Cells are made :func:`printable` first, so none can break a line."""
    header = [printable(cell) for cell in header]
    rows = [[printable(cell) for cell in row] for row in rows]
    sizes = [min(widest, max(width(cell) for cell in column))
             for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(pad(cell, size, right=r)
                         for cell, size, r in zip(cells, sizes, right, strict=True)).rstrip()

    return [line(header), "  ".join("-" * size for size in sizes), *map(line, rows)]
