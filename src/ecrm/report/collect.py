"""Gathering a shop's figures for the dashboard and the HTML report.

Everything is read through the CRM's public services (``crm.analytics``,
``crm.segments``, ``crm.cases``, ``crm.loyalty``, ``crm.recommendations``,
``crm.campaigns``), so the numbers are the ones those services give on any backend, and
the heavy lifting runs in the database where they push it down.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

from ecrm.domain import validation as check
from ecrm.domain.association import AssociationRule
from ecrm.domain.campaigns import CONTROL, Campaign
from ecrm.domain.case_figures import CaseFigures
from ecrm.domain.cases import SLAMetric
from ecrm.domain.money import average, to_decimal
from ecrm.domain.periods import Period, day_start, first_day, next_first_day, parse_tz, zone_name
from ecrm.domain.rfm import RFMTable
from ecrm.domain.segment_rules import F
from ecrm.errors import ValidationError
from ecrm.recommendation_mining import DEFAULT_MODEL
from ecrm.report.figures import (
    CampaignResult,
    ChannelMonth,
    ChannelRevenue,
    CohortRetention,
    CrossSell,
    CrossSellRule,
    Headline,
    LoyaltyFigures,
    RFMCell,
    RFMFigures,
    SegmentCount,
    ShopFigures,
    SLAGroup,
    SupportFigures,
)

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The most months a report spans.
MAX_MONTHS = 120
#: How many association rules and campaigns the figures keep.
TOP_RULES = 10
TOP_CAMPAIGNS = 10
#: RFM scores out of five: the grid is 5 x 5.
SCORES = range(1, 6)


def collect(crm: CRM, *, as_of: datetime | None = None, months: int = 12,
            tz: object = "UTC", point_value: Decimal | int | str | None = None
            ) -> ShopFigures:
    """The shop's figures as of ``as_of`` (default: now, by the CRM's clock), with the
    monthly ones over the last ``months`` calendar months in zone ``tz`` (the month
    holding ``as_of`` included). ``point_value`` is what one loyalty point is worth in the
    shop's currency, for the liability (None: not valued).

    Reads only, with one exception: when no association model is stored, the cross-sell
    rules are mined into a model of the report's own, read, and that model dropped.
    Loyalty totals, support clocks and mined rules are taken as they stand now.

    :raises ValidationError: a naive ``as_of``, ``months`` not a whole number from 1 to
        120, an unknown ``tz``, or a negative or non-numeric ``point_value``.
    """
    moment = check.aware("as_of", crm.clock.now() if as_of is None else as_of)
    assert moment is not None
    zone = parse_tz(tz)
    firsts = month_firsts(moment, _months(months), zone)
    start = day_start(firsts[0], zone)
    value = _point_value(point_value)
    return ShopFigures(
        as_of=moment.astimezone(zone), window_start=start.astimezone(zone),
        months=len(firsts), tz=zone_name(zone),
        currency=crm.currency, headline=_headline(crm, moment),
        rfm=rfm_figures(crm.analytics.rfm(as_of=moment)),
        cohorts=_cohorts(crm, moment, start, zone),
        channels=_channels(crm, moment, start, zone, firsts),
        cross_sell=_cross_sell(crm), support=_support(crm, moment, firsts, zone),
        loyalty=_loyalty(crm, value), campaigns=_campaigns(crm, moment))


def month_firsts(as_of: datetime, months: int, zone: tzinfo) -> tuple[date, ...]:
    """The first days of the ``months`` calendar months in ``zone`` that end with the
    one holding ``as_of``, oldest first."""
    last = first_day(as_of.astimezone(zone).date(), Period.MONTH)
    index = last.year * 12 + last.month - 1
    return tuple(date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1))


def _months(months: object) -> int:
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise ValidationError("months", f"must be a whole number from 1 to {MAX_MONTHS}")
    return months


def _point_value(value: object) -> Decimal | None:
    if value is None:
        return None
    amount = to_decimal("point_value", value)
    if amount < 0:
        raise ValidationError("point_value", "must not be negative")
    return amount


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


# -- sales -------------------------------------------------------------------------------


def _headline(crm: CRM, as_of: datetime) -> Headline:
    customers = crm.segments.count(F("signed_up_at") <= as_of, as_of=as_of)
    repeat = crm.analytics.repeat_purchase(as_of=as_of)
    channels = crm.analytics.channels(as_of=as_of).rows
    orders = sum(row.orders for row in channels)
    revenue = sum((row.revenue for row in channels), Decimal(0))
    aov = average(revenue, orders, crm.currency) if orders else Decimal(0)
    return Headline(customers=customers, buyers=repeat.customers, orders=orders,
                    revenue=revenue, average_order_value=aov, repeat_rate=repeat.repeat_rate)


def rfm_figures(table: RFMTable) -> RFMFigures:
    """Segment counts and the R x F grid of an RFM table scored out of five."""
    if table.bins != len(SCORES):
        raise ValidationError("table", f"expected RFM scores out of {len(SCORES)}")
    scored = len(table)
    segments = tuple(SegmentCount(name, n, _share(n, scored))
                     for name, n in table.segment_counts().items())
    customers: dict[tuple[int, int], int] = defaultdict(int)
    revenue: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
    for row in table:
        customers[row.r, row.f] += 1
        revenue[row.r, row.f] += row.monetary
    grid = tuple(RFMCell(r, f, customers[r, f], revenue[r, f])
                 for r in reversed(SCORES) for f in SCORES)
    return RFMFigures(segments, grid)


def _cohorts(crm: CRM, as_of: datetime, start: datetime, zone: tzinfo
             ) -> tuple[CohortRetention, ...]:
    table = crm.analytics.cohorts(period="month", tz=zone, as_of=as_of, start=start)
    rows_of = defaultdict(list)
    for row in table:
        rows_of[row.cohort].append(row)
    return tuple(
        CohortRetention(cohort, rows[0].customers, tuple(r.active for r in rows),
                        tuple(r.retention for r in rows), tuple(r.complete for r in rows))
        for cohort, rows in sorted(rows_of.items()))


def _channels(crm: CRM, as_of: datetime, start: datetime, zone: tzinfo,
              firsts: tuple[date, ...]) -> ChannelRevenue:
    table = crm.analytics.orders_by_channel(period="month", tz=zone, as_of=as_of, start=start)
    cells = tuple(ChannelMonth(row.period, row.channel, row.orders, row.revenue)
                  for row in table)
    return ChannelRevenue(firsts, tuple(sorted({cell.channel for cell in cells})), cells)


def _cross_sell(crm: CRM) -> CrossSell:
    """The stored default model's rules (or the first stored model's); without any stored
    model, rules mined into a throwaway model that is dropped again."""
    models = {model.name: model for model in crm.recommendations.models()}
    if models:
        model = models.get(DEFAULT_MODEL) or min(models.values(), key=lambda m: m.name)
        rules = crm.recommendations.association_rules(model.name)
        return CrossSell(_top_rules(rules), model.name, model.baskets)
    name = f"report_{uuid.uuid4().hex[:20]}"
    mined = crm.recommendations.mine(name, incremental=False)
    try:
        rules = crm.recommendations.association_rules(name)
    finally:
        crm.recommendations.drop_model(name)
    return CrossSell(_top_rules(rules), None, mined.baskets)


def _top_rules(rules: Iterable[AssociationRule]) -> tuple[CrossSellRule, ...]:
    best = sorted(rules, key=lambda r: (-r.confidence, -r.lift, r.antecedent, r.consequent))
    return tuple(CrossSellRule(r.antecedent, r.consequent, r.support, r.confidence, r.lift)
                 for r in best[:TOP_RULES])


# -- service -----------------------------------------------------------------------------


def _support(crm: CRM, as_of: datetime, firsts: tuple[date, ...], zone: tzinfo
             ) -> SupportFigures:
    since = day_start(firsts[0], zone)
    [total] = crm.cases.figures(since=since, until=as_of)
    by_priority = crm.cases.figures(since=since, until=as_of, by="priority")
    by_month = []
    for first in firsts:
        start = day_start(first, zone)
        end = min(day_start(next_first_day(first, Period.MONTH), zone), as_of)
        [month] = crm.cases.figures(since=start, until=max(start, end))
        by_month.append(sla_group(first.strftime("%Y-%m"), month))
    return SupportFigures(
        total=sla_group("all", total), resolved=total.resolved,
        first_response_median=total.first_response_median,
        resolution_median=total.resolution_median, csat=total.csat,
        csat_answers=total.csat_answers, nps=total.nps, nps_answers=total.nps_answers,
        by_priority=tuple(sla_group(f.group or "none", f) for f in by_priority),
        by_month=tuple(by_month))


def sla_group(label: str, figures: CaseFigures) -> SLAGroup:
    """``figures`` as an :class:`SLAGroup`: the share of cases without a recorded breach
    of each metric (None without cases)."""
    breaches = figures.breaches_by_metric

    def within(metric: SLAMetric) -> float | None:
        return 1 - breaches[metric] / figures.cases if figures.cases else None

    return SLAGroup(label, figures.cases, within(SLAMetric.FIRST_RESPONSE),
                    within(SLAMetric.RESOLUTION), sum(breaches.values()))


def _loyalty(crm: CRM, point_value: Decimal | None) -> LoyaltyFigures:
    totals = crm.loyalty.totals()
    liability = None if point_value is None else totals.outstanding * point_value
    return LoyaltyFigures(totals.issued, totals.outstanding, totals.redeemed, totals.expired,
                          point_value, liability)


def _campaigns(crm: CRM, as_of: datetime) -> tuple[CampaignResult, ...]:
    launched = [c for c in crm.campaigns.list()
                if c.launched_at is not None and c.launched_at <= as_of]
    launched.sort(key=lambda c: (c.launched_at, c.id), reverse=True)
    return tuple(_campaign_result(crm, c) for c in launched[:TOP_CAMPAIGNS])


def _campaign_result(crm: CRM, campaign: Campaign) -> CampaignResult:
    report = crm.campaigns.report(campaign.id)
    sent = [v for v in report.variants if v.variant != CONTROL]
    control = [v for v in report.variants if v.variant == CONTROL]
    members = sum(v.members for v in sent)
    converted = sum(v.converted for v in sent)
    assert campaign.launched_at is not None
    return CampaignResult(
        name=campaign.name, launched_at=campaign.launched_at, sent=sum(v.sent for v in sent),
        opened=sum(v.opened for v in sent), clicked=sum(v.clicked for v in sent),
        converted=converted, orders=sum(v.orders for v in sent),
        revenue=sum((v.revenue for v in sent), Decimal(0)),
        cost_per_order=report.cost_per_order, conversion_rate=_share(converted, members),
        control_conversion_rate=control[0].conversion_rate if control else None)
