"""The terminal dashboard: a :class:`~ecrm.report.figures.ShopFigures` as plain text in
compact sections, columns aligned in display width (Japanese names included), bars and
heat strips drawn in ASCII so that no character of ambiguous width can shift a line."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ecrm.errors import ValidationError
from ecrm.report import formats as fmt
from ecrm.report.columns import clip, pad, table
from ecrm.report.figures import (
    ChannelRevenue,
    CohortRetention,
    CrossSell,
    LoyaltyFigures,
    RFMFigures,
    ShopFigures,
    SupportFigures,
)
from ecrm.report.formats import Money

#: The narrowest and widest dashboards.
MIN_WIDTH, MAX_WIDTH = 40, 1000
#: Heat strip characters from 0% to 100% retention (a month not reached yet is blank).
HEAT = ".:-=+*#%@"
BAR = "#"


def render_text(figures: ShopFigures, *, width: int = 100) -> str:
    """The dashboard as text, every line at most ``width`` display columns.

    :raises ValidationError: ``width`` not a whole number from 40 to 1000.
    """
    if isinstance(width, bool) or not isinstance(width, int) or not (
            MIN_WIDTH <= width <= MAX_WIDTH):
        raise ValidationError("width", f"must be a whole number from {MIN_WIDTH} to {MAX_WIDTH}")
    money = fmt.money_in(figures.currency)
    sections = [
        _title(figures),
        _headline(figures, money),
        _rfm(figures.rfm, money),
        _cohorts(figures.cohorts, width),
        _channels(figures.channels, money, width),
        _cross_sell(figures.cross_sell),
        _support(figures.support),
        _loyalty(figures.loyalty, money),
        _campaigns(figures, money),
    ]
    lines = [line for section in sections for line in [*section, ""]]
    return "\n".join(clip(line, width) for line in lines[:-1]) + "\n"


def bar(value: float, maximum: float, columns: int) -> str:
    """A bar of ``#`` for ``value`` out of ``maximum`` over ``columns`` columns (at
    least one ``#`` for any value above zero)."""
    if maximum <= 0 or value <= 0:
        return ""
    return BAR * max(1, round(columns * min(value, maximum) / maximum))


def heat(share: float) -> str:
    """One character whose density grows with ``share`` (0 to 1)."""
    return HEAT[min(len(HEAT) - 1, max(0, round(share * (len(HEAT) - 1))))]


def _heading(title: str) -> str:
    return f"== {title} =="


def _title(figures: ShopFigures) -> list[str]:
    return [f"ecrm shop dashboard, as of {figures.as_of:%Y-%m-%d %H:%M} ({figures.tz})",
            f"monthly figures: {figures.months} months from {figures.window_start:%Y-%m-%d}; "
            f"amounts in {figures.currency}"]


def _headline(figures: ShopFigures, money: Money) -> list[str]:
    h = figures.headline
    pairs = [("customers", fmt.count(h.customers)), ("buyers", fmt.count(h.buyers)),
             ("orders", fmt.count(h.orders)), ("revenue", money(h.revenue)),
             ("average order", money(h.average_order_value)),
             ("repeat rate", fmt.percent(h.repeat_rate))]
    return [_heading("Shop"), *table(["figure", "value"], pairs, right=[False, True])]


def _rfm(rfm: RFMFigures, money: Money) -> list[str]:
    top = max((s.customers for s in rfm.segments), default=0)
    rows = [[s.segment, fmt.count(s.customers), fmt.percent(s.share), bar(s.customers, top, 20)]
            for s in rfm.segments]
    lines = [_heading("RFM segments"),
             *table(["segment", "customers", "share", ""], rows,
                    right=[False, True, True, False])]
    grid_rows = [[f"R{r}", *(fmt.count(rfm.cell(r, f).customers) for f in range(1, 6))]
                 for r in range(5, 0, -1)]
    lines += ["", "RFM grid: customers by recency (R) and frequency (F) score",
              *table(["", "F1", "F2", "F3", "F4", "F5"], grid_rows, right=[False] + [True] * 5)]
    return lines


def _cohorts(cohorts: Sequence[CohortRetention], width: int) -> list[str]:
    lines = [_heading("Monthly cohort retention")]
    if not cohorts:
        return [*lines, "no orders in the window"]
    longest = max(len(c.retention) for c in cohorts)
    shown = max(1, min(longest, (width - 36) // 6))  # percentages that fit beside the strip
    header = ["cohort", "size", "heat", *(f"M{k}" for k in range(shown))]
    rows = [[f"{c.cohort:%Y-%m}", fmt.count(c.customers),
             pad("".join(map(heat, c.retention)), longest),
             *(fmt.percent(r, 0) for r in c.retention[:shown]),
             *([""] * (shown - min(shown, len(c.retention))))]
            for c in cohorts]
    return [*lines, *table(header, rows, right=[False, True, False] + [True] * shown)]


def _channels(channels: ChannelRevenue, money: Money,
              width: int) -> list[str]:
    lines = [_heading("Revenue by channel")]
    if not channels.cells:
        return [*lines, "no orders in the window"]
    totals = {name: sum((channels.revenue(m, name) for m in channels.months), Decimal(0))
              for name in channels.channels}
    orders = {name: sum(channels.orders(m, name) for m in channels.months)
              for name in channels.channels}
    top = max(totals.values())
    rows = [[name, fmt.count(orders[name]), money(totals[name]),
             bar(float(totals[name]), float(top), 20)] for name in channels.channels]
    lines += table(["channel", "orders", "revenue", ""], rows, right=[False, True, True, False])
    monthly = {m: sum((channels.revenue(m, n) for n in channels.channels), Decimal(0))
               for m in channels.months}
    peak = max(monthly.values())
    span = max(10, width - 30)
    month_rows = [[f"{m:%Y-%m}", money(v), bar(float(v), float(peak), span)]
                  for m, v in monthly.items()]
    return [*lines, "", *table(["month", "revenue", ""], month_rows,
                               right=[False, True, False], widest=span)]


def _cross_sell(cross_sell: CrossSell) -> list[str]:
    source = (f"stored model {cross_sell.model!r}" if cross_sell.model
              else "mined for this report")
    lines = [_heading("Top cross-sell rules"),
             f"{source}, {fmt.count(cross_sell.baskets)} baskets"]
    if not cross_sell.rules:
        return [*lines, "no rules reach the thresholds"]
    rows = [[fmt.itemset(r.antecedent), fmt.itemset(r.consequent),
             fmt.percent(r.support), fmt.percent(r.confidence), fmt.ratio(r.lift)]
            for r in cross_sell.rules]
    return [*lines, *table(["if bought", "also buys", "support", "confidence", "lift"], rows,
                           right=[False, False, True, True, True])]


def _support(support: SupportFigures) -> list[str]:
    t = support.total
    lines = [_heading("Support and SLA"),
             f"cases {fmt.count(t.cases)}, resolved {fmt.count(support.resolved)}, "
             f"breaches {fmt.count(t.breaches)}",
             f"first response within SLA {fmt.percent(t.first_response_within)}, "
             f"median {fmt.duration(support.first_response_median)}",
             f"resolution within SLA {fmt.percent(t.resolution_within)}, "
             f"median {fmt.duration(support.resolution_median)}",
             f"CSAT {fmt.percent(support.csat)} ({fmt.count(support.csat_answers)} answers), "
             f"NPS {fmt.score(support.nps)} ({fmt.count(support.nps_answers)} answers)"]
    if not support.by_priority:
        return lines
    rows = [[g.label, fmt.count(g.cases), fmt.percent(g.first_response_within),
             fmt.percent(g.resolution_within), fmt.count(g.breaches)]
            for g in support.by_priority]
    return [*lines, "", *table(["priority", "cases", "first response", "resolution",
                                "breaches"], rows, right=[False, True, True, True, True])]


def _loyalty(loyalty: LoyaltyFigures, money: Money) -> list[str]:
    value = "not valued" if loyalty.point_value is None else money(loyalty.liability)
    pairs = [("points issued", fmt.count(loyalty.issued)),
             ("outstanding", fmt.count(loyalty.outstanding)),
             ("redeemed", fmt.count(loyalty.redeemed)),
             ("expired", fmt.count(loyalty.expired)),
             ("liability", value)]
    return [_heading("Loyalty points"), *table(["figure", "value"], pairs, right=[False, True])]


def _campaigns(figures: ShopFigures, money: Money) -> list[str]:
    lines = [_heading("Campaigns")]
    if not figures.campaigns:
        return [*lines, "no campaigns launched"]
    rows = [[c.name, f"{c.launched_at:%Y-%m-%d}", fmt.count(c.sent),
             fmt.count(c.opened), fmt.count(c.converted), fmt.percent(c.conversion_rate),
             fmt.percent(c.control_conversion_rate), money(c.revenue)]
            for c in figures.campaigns]
    header = ["campaign", "launched", "sent", "opened", "converted", "rate", "control",
              "revenue"]
    return [*lines, *table(header, rows, right=[False, False] + [True] * 6)]
