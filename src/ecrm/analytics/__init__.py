"""Analytics: what the shop's customer data says, as typed result tables.

``crm.analytics`` (:class:`Analytics`) answers questions about the shop's own data; the
statistics behind the A/B tests are plain functions here too. Importing this package
stays light: the predictive models that need numpy and scipy live in modules of their
own (:mod:`ecrm.analytics.clv`: BG/NBD and Gamma-Gamma), installed with the ``predict``
extra.
"""

from ecrm.analytics.experiments import ABTestReport, VariantRow
from ecrm.analytics.journeys import (
    CartAbandonmentReport,
    CartFigures,
    FunnelRow,
    FunnelTable,
    JourneyRow,
    JourneyTable,
)
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
from ecrm.domain.channels import (
    ChannelPeriodRow,
    ChannelPeriodTable,
    ChannelRow,
    ChannelTable,
)
from ecrm.domain.cohorts import (
    ChurnReport,
    ChurnRow,
    CohortRow,
    CohortTable,
    GapBucket,
    RepeatSummary,
)
from ecrm.domain.journeys import FunnelStep
from ecrm.domain.periods import MAX_PERIODS, Period
from ecrm.domain.results import ResultTable
from ecrm.domain.rfm import (
    DEFAULT_SEGMENTS,
    RFMRow,
    RFMSegmentMap,
    RFMSegmentRule,
    RFMTable,
)

__all__ = [
    "ABTestReport",
    "Analytics",
    "CartAbandonmentReport",
    "CartFigures",
    "ChannelPeriodRow",
    "ChannelPeriodTable",
    "ChannelRow",
    "ChannelTable",
    "ChurnReport",
    "ChurnRow",
    "CLVRow",
    "CLVSummary",
    "CLVSummaryRow",
    "CLVTable",
    "CohortRow",
    "CohortTable",
    "DEFAULT_SEGMENTS",
    "FunnelRow",
    "FunnelStep",
    "FunnelTable",
    "GapBucket",
    "HistoricalValueRow",
    "HistoricalValueTable",
    "JourneyRow",
    "JourneyTable",
    "MAX_PERIODS",
    "MeanTest",
    "Period",
    "ProportionTest",
    "RepeatSummary",
    "ResultTable",
    "RFMRow",
    "RFMSegmentMap",
    "RFMSegmentRule",
    "RFMTable",
    "sample_size_for_means",
    "sample_size_for_proportions",
    "two_proportion_test",
    "VariantRow",
    "welch_t_test",
]
