"""The conformance suite: every backend must pass it unchanged."""

from ecrm.testing.conformance.analytics import AnalyticsContract
from ecrm.testing.conformance.analytics_cohorts import CohortAnalyticsContract
from ecrm.testing.conformance.analytics_journeys import JourneyAnalyticsContract
from ecrm.testing.conformance.analytics_rfm import RFMContract
from ecrm.testing.conformance.audit import AuditContract
from ecrm.testing.conformance.bad_input import BadInputContract
from ecrm.testing.conformance.campaigns import CampaignContract, FreshEnqueueContract
from ecrm.testing.conformance.cases import CaseContract
from ecrm.testing.conformance.concurrency import ConcurrencyContract
from ecrm.testing.conformance.consent import ConsentContract, ConsentPropertyContract
from ecrm.testing.conformance.consent_purposes import ConsentPurposeContract
from ecrm.testing.conformance.coupons import CouponContract
from ecrm.testing.conformance.customers import CustomerContract
from ecrm.testing.conformance.earning import EarningContract
from ecrm.testing.conformance.erasure import ErasureContract
from ecrm.testing.conformance.export import ExportContract
from ecrm.testing.conformance.imports import ImportContract
from ecrm.testing.conformance.interactions import InteractionContract, TimelineContract
from ecrm.testing.conformance.journeys import JourneyContract
from ecrm.testing.conformance.lifetime import LifetimeValueContract
from ecrm.testing.conformance.loyalty import LoyaltyContract
from ecrm.testing.conformance.orders import OrderContract
from ecrm.testing.conformance.outbox import OutboxContract
from ecrm.testing.conformance.plugins import PluginContract
from ecrm.testing.conformance.recommendations import RecommendationContract
from ecrm.testing.conformance.referrals import ReferralContract
from ecrm.testing.conformance.segment_service import SegmentServiceContract
from ecrm.testing.conformance.segments import SegmentContract
from ecrm.testing.conformance.tenancy import TenancyContract
from ecrm.testing.conformance.tenant_isolation import TenantIsolationContract
from ecrm.testing.conformance.tiers import TierContract
from ecrm.testing.conformance.units import UnitOfWorkContract


class BackendConformanceSuite(
    CustomerContract, OrderContract, BadInputContract, ImportContract, TenancyContract,
    PluginContract, ConcurrencyContract, UnitOfWorkContract, LoyaltyContract,
    EarningContract, TierContract, CouponContract, ReferralContract, InteractionContract,
    TimelineContract, CaseContract, ConsentContract, ConsentPropertyContract,
    ConsentPurposeContract,
    SegmentContract, SegmentServiceContract, AnalyticsContract,
    JourneyAnalyticsContract, CohortAnalyticsContract, RFMContract,
    LifetimeValueContract, RecommendationContract, OutboxContract, CampaignContract,
    FreshEnqueueContract,
    JourneyContract, ErasureContract, ExportContract, AuditContract,
    TenantIsolationContract,
):
    """Subclass it in a test file named ``Test...`` and provide a ``backend`` fixture
    (any scope) yielding a backend whose schema exists. Each test works in a fresh tenant,
    so one backend can serve the whole session."""


__all__ = ["BackendConformanceSuite"]
