"""Analytics: what the shop's customer data says, as typed result tables.

``crm.analytics`` (:class:`Analytics`) answers questions about the shop's own data; the
statistics behind the A/B tests are plain functions here too. Importing this package
stays light: the predictive models that need numpy and scipy live in modules of their
own (:mod:`ecrm.analytics.clv`: BG/NBD and Gamma-Gamma), installed with the ``predict``
extra.
"""

from ecrm.analytics.experiments import ABTestReport, VariantRow
from ecrm.analytics.lifetime import (
    CLVRow,
    CLVSummary,
    CLVSummaryRow,
    CLVTable,
    HistoricalValueRow,
    HistoricalValueTable,
)
from ecrm.analytics.service import Analytics
from ecrm.domain.ab_tests import (
    MeanTest,
    ProportionTest,
    sample_size_for_means,
    sample_size_for_proportions,
    two_proportion_test,
    welch_t_test,
)
from ecrm.domain.results import ResultTable

__all__ = [
    "ABTestReport",
    "Analytics",
    "CLVRow",
    "CLVSummary",
    "CLVSummaryRow",
    "CLVTable",
    "HistoricalValueRow",
    "HistoricalValueTable",
    "MeanTest",
    "ProportionTest",
    "ResultTable",
    "VariantRow",
    "sample_size_for_means",
    "sample_size_for_proportions",
    "two_proportion_test",
    "welch_t_test",
]
