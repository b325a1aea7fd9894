"""The HTML report and the terminal dashboard drawn from real figures: every chart there,
well-formed and carrying the right numbers, HTML that parses with balanced tags, text
from the shop escaped, and dashboard lines that fit their width and stay aligned with
Japanese text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.errors import ValidationError
from ecrm.report import (
    ChannelMonth,
    ChannelRevenue,
    CrossSell,
    CrossSellRule,
    SegmentCount,
    ShopFigures,
    collect,
    render_html,
    render_text,
)
from ecrm.report.columns import width
from tests.report_shop import AS_OF, EVIL, build_shop

NS = "{http://www.w3.org/2000/svg}"
VOID = {"meta", "br", "img", "hr", "link", "input"}


@pytest.fixture(scope="module")
def figures() -> ShopFigures:
    return collect(build_shop(MemoryBackend()), as_of=AS_OF, months=6, point_value=1)


@pytest.fixture(scope="module")
def empty() -> ShopFigures:
    return collect(CRM(MemoryBackend(), clock=ManualClock(AS_OF)))


def chart(page: str, figure_id: str) -> ET.Element:
    """The SVG inside ``<figure id=figure_id>``, parsed as XML."""
    found = re.search(rf'<figure id="{figure_id}">\s*(<svg\b.*?</svg>)', page, re.DOTALL)
    assert found, f"no chart {figure_id}"
    return ET.fromstring(found.group(1))


def marks(root: ET.Element, cls: str) -> dict[str, float]:
    """Tooltip -> height of every ``<rect class=cls>``."""
    return {rect.findtext(f"{NS}title") or "": float(rect.get("height", "nan"))
            for rect in root.iter(f"{NS}rect") if rect.get("class") == cls}


class TagBalance(HTMLParser):
    """Checks that every element opened is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attributes: object) -> None:
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"


def balanced(page: str) -> None:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.open == []


def test_the_page_is_self_contained_and_parses(figures: ShopFigures) -> None:
    page = render_html(figures)
    balanced(page)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    assert "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page and "<link" not in page
    svgs = re.findall(r"<svg\b.*?</svg>", page, re.DOTALL)
    assert len(svgs) == 4
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.get("viewBox") and root.find(f"{NS}title") is not None


def test_the_cohort_heatmap_has_a_cell_per_cohort_and_month(figures: ShopFigures) -> None:
    cells = marks(chart(render_html(figures), "cohort-retention"), "cell")
    assert len(cells) == sum(len(c.retention) for c in figures.cohorts) == 6 + 5 + 4 + 2 + 1
    assert any(t.startswith("cohort 2026-01, month 1: 50.0% (1 of 2 customers)")
               for t in cells)
    assert any(t.startswith("cohort 2026-05, month 1: 100.0% (1 of 1 customers)")
               for t in cells)
    assert sum("month still running" in t for t in cells) == 5  # June, for each cohort


def test_the_rfm_grid_has_25_cells_with_counts(figures: ShopFigures) -> None:
    root = chart(render_html(figures), "rfm-grid")
    cells = marks(root, "cell")
    assert len(cells) == 25
    for cell in figures.rfm.grid:
        assert any(t.startswith(f"R{cell.recency} F{cell.frequency}: {cell.customers} "
                                "customers") for t in cells)


def test_revenue_bars_per_channel_and_month_are_proportional(figures: ShopFigures) -> None:
    bars = marks(chart(render_html(figures), "revenue-by-channel"), "bar")
    assert len(bars) == 6 * 3  # months x channels
    # January's stack of 8,000 is the highest: it fills the 220 units of the plot.
    assert bars["2026-01 - store: ¥5,000"] == pytest.approx(220 * 5 / 8, abs=0.05)
    assert bars["2026-01 - web: ¥3,000"] == pytest.approx(220 * 3 / 8, abs=0.05)
    assert bars["2026-06 - store: ¥1,500"] == pytest.approx(220 * 1.5 / 8, abs=0.05)
    assert bars["2026-04 - web: ¥0"] == 0.0


def test_the_sla_chart_shows_both_targets_per_month(figures: ShopFigures) -> None:
    bars = marks(chart(render_html(figures), "sla"), "bar")
    assert len(bars) == 6 * 2
    june = figures.support.by_month[-1]
    assert june.first_response_within == 0.5 and june.resolution_within == 0.0
    assert bars["2026-06 - first response within SLA: 50.0%"] == pytest.approx(110, abs=0.05)
    assert bars["2026-05 - resolution within SLA: 100.0%"] == pytest.approx(220, abs=0.05)
    page = render_html(figures)
    assert "CSAT</td><td class=\"num\">50.0% (2 answers)" in page


def test_tables_hold_the_text_figures(figures: ShopFigures) -> None:
    page = render_html(figures)
    for table_id in ("rfm-segments", "cross-sell", "loyalty", "support-summary",
                     "sla-by-priority", "channel-totals"):
        assert f'<table id="{table_id}">' in page
    assert "¥300 at 1 JPY a point" in page


def test_text_from_the_shop_is_escaped(figures: ShopFigures) -> None:
    evil_channel = attrs.evolve(figures, channels=ChannelRevenue(
        (date(2026, 6, 1),), (EVIL,), (ChannelMonth(date(2026, 6, 1), EVIL, 1, Decimal(5)),)))
    for page in (render_html(figures), render_html(evil_channel)):
        balanced(page)
        assert EVIL not in page and "<script" not in page
        assert "&lt;script&gt;&amp;&quot;x&quot;" in page
    legend = chart(render_html(evil_channel), "revenue-by-channel")
    assert EVIL in [t.text for t in legend.iter(f"{NS}text")]  # unescaped by the parser


def test_an_empty_shop_renders(empty: ShopFigures) -> None:
    page = render_html(empty)
    balanced(page)
    assert "No orders in the window." in page and "No campaigns launched." in page
    assert len(marks(chart(page, "rfm-grid"), "cell")) == 25


@pytest.mark.parametrize("columns", [40, 63, 100, 160])
def test_every_dashboard_line_fits(figures: ShopFigures, empty: ShopFigures,
                                   columns: int) -> None:
    for shown in (figures, empty, japanese(figures)):
        text = render_text(shown, width=columns)
        assert text.endswith("\n")
        assert all(width(line) <= columns for line in text.splitlines()), text


def japanese(figures: ShopFigures) -> ShopFigures:
    """The figures with Japanese product names in the cross-sell rules."""
    rules = (CrossSellRule(("抹茶ラテ",), ("湯のみ",), 0.25, 0.5, 1.25),
             CrossSellRule(("TEA",), ("急須（大）",), 0.1, 0.25, 2.0),
             CrossSellRule(("ほうじ茶 ティーバッグ 徳用",), ("CUP",), 0.05, 1.0, 3.5))
    return attrs.evolve(figures, cross_sell=CrossSell(rules, "default", 40))


def test_columns_stay_aligned_with_full_width_names(figures: ShopFigures) -> None:
    lines = render_text(japanese(figures)).splitlines()
    start = lines.index("== Top cross-sell rules ==") + 4
    rows = lines[start:start + 3]
    assert "抹茶ラテ" in rows[0] and "ほうじ茶" in rows[2] and "急須（大）" in rows[1]
    # Each row's support, confidence and lift end in the same display columns.
    ends = {tuple(width(row[:m.end()]) for m in re.finditer(r"\S+%|\d+\.\d\d", row))
            for row in rows}
    assert len(ends) == 1


def test_the_dashboard_names_every_section(figures: ShopFigures) -> None:
    text = render_text(figures)
    for heading in ("Shop", "RFM segments", "Monthly cohort retention", "Revenue by channel",
                    "Top cross-sell rules", "Support and SLA", "Loyalty points", "Campaigns"):
        assert f"== {heading} ==" in text
    assert "\nrevenue        ¥24,500\n" in text
    assert "\n2026-01     2  @+++..  100%   50%" in text  # heat strip: 100%, 50% x 3, 0% x 2


@pytest.mark.parametrize("bad", [39, 1001, True, 100.0])
def test_a_bad_width_is_refused(figures: ShopFigures, bad: object) -> None:
    with pytest.raises(ValidationError) as raised:
        render_text(figures, width=bad)  # type: ignore[arg-type]
    assert raised.value.field == "width"


def renamed(figures: ShopFigures, names: list[str]) -> ShopFigures:
    """The figures with ``names`` as channel, product and segment names."""
    month = figures.channels.months[0]
    cells = tuple(ChannelMonth(month, name, 1, Decimal(i)) for i, name in enumerate(names))
    rules = tuple(CrossSellRule((name,), (name,), 0.5, 0.5, 1.0) for name in names)
    segments = tuple(SegmentCount(name, 1, 0.1) for name in names)
    return attrs.evolve(
        figures, channels=ChannelRevenue(figures.channels.months, tuple(names), cells),
        cross_sell=CrossSell(rules, "default", 1),
        rfm=attrs.evolve(figures.rfm, segments=segments))


@given(names=st.lists(st.text(max_size=40), min_size=1, max_size=5),
       columns=st.integers(min_value=40, max_value=200))
def test_any_names_keep_every_line_within_the_width(figures: ShopFigures, names: list[str],
                                                    columns: int) -> None:
    text = render_text(renamed(figures, names), width=columns)
    lines = text.splitlines()
    assert all(width(line) <= columns for line in lines)
    plain = render_text(renamed(figures, ["x"] * len(names)), width=columns)
    assert len(lines) == len(plain.splitlines())  # no name breaks a line


@given(names=st.lists(st.text(max_size=40), min_size=1, max_size=4))
def test_any_names_keep_the_page_well_formed(figures: ShopFigures, names: list[str]) -> None:
    page = render_html(renamed(figures, names))
    balanced(page)
    for svg in re.findall(r"<svg\b.*?</svg>", page, re.DOTALL):
        ET.fromstring(svg)
    assert "<script" not in page
