"""The HTML report: one self-contained UTF-8 page (inline CSS and SVG charts, no
JavaScript, nothing fetched from the network) drawn from a
:class:`~ecrm.report.figures.ShopFigures`, and :func:`write_report`, which collects the
figures and writes the page to a file."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from ecrm.report import formats as fmt
from ecrm.report.collect import collect
from ecrm.report.figures import (
    ChannelRevenue,
    CohortRetention,
    CrossSell,
    RFMFigures,
    ShopFigures,
    SupportFigures,
)
from ecrm.report.formats import Money
from ecrm.report.svg import HeatCell, Series, bar_chart, heatmap, xml_text

if TYPE_CHECKING:
    from ecrm.crm import CRM

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; border-bottom: 1px solid #ccc; padding-bottom: .2rem;
     margin-top: 2rem; }
.meta { color: #555; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card .label { color: #555; font-size: .85rem; }
.card .value { font-size: 1.3rem; font-weight: 600; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: .9rem; }
table { border-collapse: collapse; margin: .6rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #eee; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.empty { color: #777; font-style: italic; }
"""

NUMERIC = ' class="num"'


def render_html(figures: ShopFigures) -> str:
    """The report as one HTML document; every value taken from the shop is escaped."""
    money = fmt.money_in(figures.currency)
    body = [
        _header(figures, money),
        _cohort_section(figures.cohorts),
        _rfm_section(figures.rfm, money),
        _channel_section(figures.channels, money),
        _cross_sell_section(figures.cross_sell),
        _support_section(figures.support),
        _loyalty_section(figures, money),
        _campaign_section(figures, money),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>Shop report {figures.as_of:%Y-%m-%d}</title>\n<style>{STYLE}</style>\n"
            "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def write_report(crm: CRM, path: str | Path, *, as_of: datetime | None = None,
                 months: int = 12, tz: object = "UTC",
                 point_value: Decimal | int | str | None = None) -> Path:
    """Collect the shop's figures (see :func:`ecrm.report.collect`), render the HTML
    report and write it to ``path`` as UTF-8; returns the path written."""
    figures = collect(crm, as_of=as_of, months=months, tz=tz, point_value=point_value)
    target = Path(path)
    target.write_text(render_html(figures), encoding="utf-8")
    return target


# -- building blocks ---------------------------------------------------------------------


def _section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{xml_text(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _figure(figure_id: str, svg: str, caption: str) -> str:
    return (f'<figure id="{figure_id}">\n{svg}\n<figcaption>{xml_text(caption)}'
            "</figcaption>\n</figure>")


def _empty(text: str) -> str:
    return f'<p class="empty">{xml_text(text)}</p>'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool],
           table_id: str) -> str:
    """An HTML table of plain-text cells (escaped here); ``numeric`` right-aligns."""

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(f"<{tag}{NUMERIC if num else ''}>{xml_text(v)}</{tag}>"
                       for v, num in zip(values, numeric, strict=True))

    body = "\n".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (f'<table id="{table_id}">\n<thead><tr>{cells("th", header)}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table>")


# -- sections ----------------------------------------------------------------------------


def _header(figures: ShopFigures, money: Money) -> str:
    h = figures.headline
    cards = [("Customers", fmt.count(h.customers)), ("Buyers", fmt.count(h.buyers)),
             ("Orders", fmt.count(h.orders)), ("Revenue", money(h.revenue)),
             ("Average order", money(h.average_order_value)),
             ("Repeat rate", fmt.percent(h.repeat_rate))]
    html_cards = "\n".join(
        f'<div class="card"><div class="label">{xml_text(label)}</div>'
        f'<div class="value">{xml_text(value)}</div></div>' for label, value in cards)
    meta = (f"As of {figures.as_of:%Y-%m-%d %H:%M} ({figures.tz}); monthly figures over "
            f"{figures.months} months from {figures.window_start:%Y-%m-%d}; amounts in "
            f"{figures.currency}.")
    return (f"<header>\n<h1>Shop report</h1>\n<p class=\"meta\">{xml_text(meta)}</p>\n"
            f'<div class="cards">\n{html_cards}\n</div>\n</header>')


def _cohort_section(cohorts: Sequence[CohortRetention]) -> str:
    if not cohorts:
        return _section("Cohort retention", _empty("No orders in the window."))
    longest = max(len(c.retention) for c in cohorts)
    cells = [
        HeatCell(row, k, share, fmt.percent(share, 0),
                 f"cohort {c.cohort:%Y-%m}, month {k}: {fmt.percent(share)} "
                 f"({c.active[k]} of {c.customers} customers)"
                 + ("" if c.complete[k] else ", month still running"))
        for row, c in enumerate(cohorts) for k, share in enumerate(c.retention)]
    svg = heatmap(title="Monthly cohort retention",
                  rows=[f"{c.cohort:%Y-%m} ({c.customers})" for c in cohorts],
                  columns=[f"M{k}" for k in range(longest)], cells=cells,
                  row_title="cohort (size)", column_title="months since first order")
    return _section("Cohort retention", _figure(
        "cohort-retention", svg, "Share of each month's new buyers who ordered again "
        "k months later; M0 is the month of the first order."))


def _rfm_section(rfm: RFMFigures, money: Money) -> str:
    cells = [HeatCell(5 - c.recency, c.frequency - 1, c.customers, fmt.count(c.customers),
                      f"R{c.recency} F{c.frequency}: {fmt.count(c.customers)} customers, "
                      f"{money(c.revenue)}")
             for c in rfm.grid]
    svg = heatmap(title="RFM grid: customers by recency and frequency score",
                  rows=[f"R{r}" for r in range(5, 0, -1)], columns=[f"F{f}" for f in range(1, 6)],
                  cells=cells, row_title="recency", column_title="frequency")
    rows = [[s.segment, fmt.count(s.customers), fmt.percent(s.share)] for s in rfm.segments]
    return _section(
        "RFM", _figure("rfm-grid", svg, "Buyers by recency (R, 5 = most recent) and "
                                        "frequency (F, 5 = most orders) score."),
        _table(["segment", "customers", "share"], rows, [False, True, True], "rfm-segments"))


def _channel_section(channels: ChannelRevenue, money: Money) -> str:
    if not channels.cells:
        return _section("Revenue by channel", _empty("No orders in the window."))
    months = [f"{m:%Y-%m}" for m in channels.months]
    series = [Series(name, [float(channels.revenue(m, name)) for m in channels.months])
              for name in channels.channels]
    svg = bar_chart(title="Revenue by channel and month", categories=months, series=series,
                    value_format=lambda v: money(Decimal(v)))
    rows = [[name, fmt.count(sum(channels.orders(m, name) for m in channels.months)),
             money(sum((channels.revenue(m, name) for m in channels.months), Decimal(0)))]
            for name in channels.channels]
    return _section("Revenue by channel", _figure(
        "revenue-by-channel", svg, "Net revenue per month, stacked by order channel."),
        _table(["channel", "orders", "revenue"], rows, [False, True, True], "channel-totals"))


def _cross_sell_section(cross_sell: CrossSell) -> str:
    source = (f"Rules of the stored model {cross_sell.model!r}" if cross_sell.model
              else "Rules mined for this report")
    note = f"<p>{xml_text(source)} from {fmt.count(cross_sell.baskets)} baskets.</p>"
    if not cross_sell.rules:
        return _section("Cross-sell rules", note, _empty("No rules reach the thresholds."))
    rows = [[fmt.itemset(r.antecedent), fmt.itemset(r.consequent), fmt.percent(r.support),
             fmt.percent(r.confidence), fmt.ratio(r.lift)] for r in cross_sell.rules]
    return _section("Cross-sell rules", note, _table(
        ["if bought", "also buys", "support", "confidence", "lift"], rows,
        [False, False, True, True, True], "cross-sell"))


def _support_section(support: SupportFigures) -> str:
    months = [g.label for g in support.by_month]
    series = [Series("first response within SLA",
                     [100 * (g.first_response_within or 0) for g in support.by_month]),
              Series("resolution within SLA",
                     [100 * (g.resolution_within or 0) for g in support.by_month])]
    svg = bar_chart(title="Cases within SLA by month", categories=months, series=series,
                    stacked=False, maximum=100, value_format="{:.1f}%".format)
    t = support.total
    summary = [
        ["cases", fmt.count(t.cases)], ["resolved", fmt.count(support.resolved)],
        ["first response within SLA", fmt.percent(t.first_response_within)],
        ["resolution within SLA", fmt.percent(t.resolution_within)],
        ["breaches", fmt.count(t.breaches)],
        ["median first response", fmt.duration(support.first_response_median)],
        ["median resolution", fmt.duration(support.resolution_median)],
        ["CSAT", f"{fmt.percent(support.csat)} ({support.csat_answers} answers)"],
        ["NPS", f"{fmt.score(support.nps)} ({support.nps_answers} answers)"]]
    rows = [[g.label, fmt.count(g.cases), fmt.percent(g.first_response_within),
             fmt.percent(g.resolution_within), fmt.count(g.breaches)]
            for g in support.by_priority]
    return _section(
        "Support and SLA",
        _figure("sla", svg, "Share of cases opened each month without a recorded breach "
                            "of the first-response and resolution targets (months "
                            "without cases show no bars)."),
        _table(["figure", "value"], summary, [False, True], "support-summary"),
        _table(["priority", "cases", "first response", "resolution", "breaches"], rows,
               [False, True, True, True, True], "sla-by-priority"))


def _loyalty_section(figures: ShopFigures, money: Money) -> str:
    loyalty = figures.loyalty
    value = "not valued" if loyalty.point_value is None else (
        f"{money(loyalty.liability)} at {loyalty.point_value} {figures.currency} a point")
    rows = [["points issued", fmt.count(loyalty.issued)],
            ["outstanding", fmt.count(loyalty.outstanding)],
            ["redeemed", fmt.count(loyalty.redeemed)], ["expired", fmt.count(loyalty.expired)],
            ["liability", value]]
    return _section("Loyalty points", _table(["figure", "value"], rows, [False, True],
                                             "loyalty"))


def _campaign_section(figures: ShopFigures, money: Money) -> str:
    if not figures.campaigns:
        return _section("Campaigns", _empty("No campaigns launched."))
    rows = [[c.name, f"{c.launched_at:%Y-%m-%d}", fmt.count(c.sent), fmt.count(c.opened),
             fmt.count(c.clicked), fmt.count(c.converted), fmt.percent(c.conversion_rate),
             fmt.percent(c.control_conversion_rate), fmt.count(c.orders), money(c.revenue),
             money(c.cost_per_order)] for c in figures.campaigns]
    header = ["campaign", "launched", "sent", "opened", "clicked", "converted", "rate",
              "control rate", "orders", "revenue", "cost per order"]
    return _section("Campaigns", _table(header, rows, [False, False] + [True] * 9,
                                        "campaigns"))
