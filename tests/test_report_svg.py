"""The SVG builders: well-formed SVG with a viewBox and titles for any finite non-negative
values and any label text, finite coordinates, labels escaped, and bar heights
proportional to the values."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm.errors import ValidationError
from ecrm.report.svg import HeatCell, Series, bar_chart, heatmap, xml_text

NS = "{http://www.w3.org/2000/svg}"
GEOMETRY = ("x", "y", "width", "height", "x1", "x2", "y1", "y2")
values = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
#: Any text, control characters and lone surrogates included.
anything = st.text(max_size=30)
#: Text XML keeps as it is (parsers turn \r into \n and drop what XML cannot hold).
plain = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30) | st.sampled_from(
    ['<script>&"x"', "a & b", "'quoted'", "]]>", "東京都 渋谷区"])


def parsed(svg: str) -> ET.Element:
    """The SVG's root, checked for a viewBox, an accessible name and finite geometry."""
    root = ET.fromstring(svg)
    assert root.tag == f"{NS}svg" and root.get("role") == "img"
    assert len(root.get("viewBox", "").split()) == 4
    assert root.find(f"{NS}title") is not None and root.get("aria-label") is not None
    for element in root.iter():
        for name in GEOMETRY:
            if name in element.attrib:
                assert math.isfinite(float(element.attrib[name])), (name, element.attrib)
    return root


def titles(root: ET.Element, cls: str) -> list[str]:
    return [rect.findtext(f"{NS}title") or "" for rect in root.iter(f"{NS}rect")
            if rect.get("class") == cls]


@st.composite
def heat_inputs(draw: st.DrawFn, text: st.SearchStrategy[str]
                ) -> tuple[list[str], list[str], list[HeatCell]]:
    rows = draw(st.lists(text, max_size=6))
    columns = draw(st.lists(text, max_size=6))
    places = [(r, c) for r in range(len(rows)) for c in range(len(columns))]
    chosen = draw(st.lists(st.sampled_from(places), unique=True)) if places else []
    cells = [HeatCell(r, c, draw(values), draw(text), draw(text)) for r, c in chosen]
    return rows, columns, cells


@given(heat_inputs(anything), anything)
def test_any_heatmap_is_well_formed(inputs: tuple, title: str) -> None:
    rows, columns, cells = inputs
    root = parsed(heatmap(title=title, rows=rows, columns=columns, cells=cells))
    assert len(titles(root, "cell")) == len(cells)


@given(heat_inputs(plain), plain)
def test_heatmap_text_comes_back_unchanged(inputs: tuple, title: str) -> None:
    rows, columns, cells = inputs
    root = parsed(heatmap(title=title, rows=rows, columns=columns, cells=cells))
    assert root.findtext(f"{NS}title") == title and root.get("aria-label") == title
    assert titles(root, "cell") == [cell.tooltip for cell in cells]
    labels = {t.text or "" for t in root.iter(f"{NS}text")}
    assert {cell.label for cell in cells} <= labels


@st.composite
def bar_inputs(draw: st.DrawFn, text: st.SearchStrategy[str]
               ) -> tuple[list[str], list[Series]]:
    categories = draw(st.lists(text, max_size=8))
    names = draw(st.lists(text, max_size=4))
    series = [Series(name, draw(st.lists(values, min_size=len(categories),
                                         max_size=len(categories)))) for name in names]
    return categories, series


@given(bar_inputs(anything), anything, st.booleans())
def test_any_bar_chart_is_well_formed(inputs: tuple, title: str, stacked: bool) -> None:
    categories, series = inputs
    root = parsed(bar_chart(title=title, categories=categories, series=series,
                            stacked=stacked))
    assert len(titles(root, "bar")) == len(categories) * len(series)


@given(bar_inputs(plain), st.booleans())
def test_bar_tooltips_name_category_and_series(inputs: tuple, stacked: bool) -> None:
    categories, series = inputs
    root = parsed(bar_chart(title="t", categories=categories, series=series,
                            stacked=stacked, value_format=str))
    expected = [f"{c} - {s.name}: {s.values[i]}" for i, c in enumerate(categories)
                for s in series]
    assert titles(root, "bar") == expected


def bar_heights(svg: str) -> dict[str, float]:
    root = ET.fromstring(svg)
    return {rect.findtext(f"{NS}title") or "": float(rect.get("height", "nan"))
            for rect in root.iter(f"{NS}rect") if rect.get("class") == "bar"}


@pytest.mark.parametrize("stacked", [True, False])
def test_bar_heights_are_proportional_to_values(stacked: bool) -> None:
    svg = bar_chart(title="revenue", categories=["Jan", "Feb"], stacked=stacked,
                    series=[Series("web", [300, 100]), Series("app", [100, 0])],
                    value_format="{:.0f}".format, plot_height=200)
    heights = bar_heights(svg)
    top = 400 if stacked else 300  # the highest stack, or the highest bar
    expected = {"Jan - web: 300": 200 * 300 / top, "Feb - web: 100": 200 * 100 / top,
                "Jan - app: 100": 200 * 100 / top, "Feb - app: 0": 0.0}
    assert heights == pytest.approx(expected, abs=0.05)  # one decimal place in the SVG


def test_all_zero_values_draw_flat_bars_and_light_cells() -> None:
    heights = bar_heights(bar_chart(title="t", categories=["a"], series=[Series("s", [0])]))
    assert heights == {"a - s: 0": 0.0}
    root = parsed(heatmap(title="t", rows=["r"], columns=["c"],
                          cells=[HeatCell(0, 0, 0.0, "0", "none")]))
    [cell] = [r for r in root.iter(f"{NS}rect") if r.get("class") == "cell"]
    assert cell.get("fill") == "#eff6ff"


def test_labels_are_escaped_in_the_markup() -> None:
    svg = heatmap(title='<b>&"t"', rows=['<script>&"x"'], columns=["c"],
                  cells=[HeatCell(0, 0, 1.0, "<i>", "a&b")])
    assert "<script>" not in svg and "<i>" not in svg and "<b>" not in svg
    assert "&lt;script&gt;&amp;&quot;x&quot;" in svg and "a&amp;b" in svg
    assert xml_text("\x00'") == "\ufffd&#x27;"


@pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
def test_bad_values_are_refused(bad: float) -> None:
    with pytest.raises(ValidationError) as raised:
        bar_chart(title="t", categories=["a"], series=[Series("s", [bad])])
    assert raised.value.field == "series"
    with pytest.raises(ValidationError) as raised:
        heatmap(title="t", rows=["r"], columns=["c"], cells=[HeatCell(0, 0, bad, "", "")])
    assert raised.value.field == "cells"


def test_mismatched_shapes_are_refused() -> None:
    with pytest.raises(ValidationError, match="2 values"):
        bar_chart(title="t", categories=["a", "b"], series=[Series("s", [1])])
    with pytest.raises(ValidationError, match="outside"):
        heatmap(title="t", rows=["r"], columns=["c"], cells=[HeatCell(1, 0, 1, "", "")])
