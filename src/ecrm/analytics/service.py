"""The ``crm.analytics`` capability: one object whose methods come from the analysis
modules of this package (each a mixin), so every analysis lives in its own module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecrm.analytics.experiments import ABTestAnalysis
from ecrm.analytics.lifetime import LifetimeValueAnalysis

if TYPE_CHECKING:
    from ecrm.crm import CRM


class Analytics(ABTestAnalysis, LifetimeValueAnalysis):
    """The ``crm.analytics`` capability: questions about the shop's customers and orders,
    answered as typed result tables. On SQL backends the heavy work runs in the
    database; the memory backend gives the same answers in Python."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
