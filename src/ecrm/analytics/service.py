"""The ``crm.analytics`` capability: one object whose methods come from the analysis
modules of this package (each a mixin), so every analysis lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecrm.analytics.channels import ChannelAnalysis
from ecrm.analytics.cohorts import CohortAnalysis
from ecrm.analytics.experiments import ABTestAnalysis
from ecrm.analytics.journeys import JourneyAnalysis
from ecrm.analytics.lifetime import LifetimeValueAnalysis
from ecrm.analytics.rfm import RFMAnalysis

if TYPE_CHECKING:
    from ecrm.crm import CRM


class Analytics(
    ABTestAnalysis,
    JourneyAnalysis,
    CohortAnalysis,
    ChannelAnalysis,
    RFMAnalysis,
    LifetimeValueAnalysis,
):
    """The ``crm.analytics`` capability: questions about the shop's customers and orders,
    answered as typed result tables. On SQL backends the heavy work runs in the
    database; the memory backend gives the same answers in Python."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
