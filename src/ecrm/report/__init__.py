"""Shop reports: the figures behind the ``ecrm demo`` terminal dashboard and the
``ecrm report`` HTML report.

:func:`collect` gathers a :class:`ShopFigures` through the CRM's public services;
:func:`render_text` and :func:`render_html` are pure functions of it; and
:func:`write_report` does both and writes the HTML file.
"""

from ecrm.report.collect import collect
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
from ecrm.report.html import render_html, write_report
from ecrm.report.text import render_text

__all__ = [
    "CampaignResult",
    "ChannelMonth",
    "ChannelRevenue",
    "CohortRetention",
    "CrossSell",
    "CrossSellRule",
    "Headline",
    "LoyaltyFigures",
    "RFMCell",
    "RFMFigures",
    "SLAGroup",
    "SegmentCount",
    "ShopFigures",
    "SupportFigures",
    "collect",
    "render_html",
    "render_text",
    "write_report",
]
