"""ecrm: an embeddable CRM library for e-commerce.

>>> import ecrm
>>> crm = ecrm.CRM.open("memory://")
>>> alice = crm.customers.create(email="alice@example.com", name="Alice")
>>> crm.customers.find(email="ALICE@example.com") == alice
True
"""

from ecrm.audit import AuditPage
from ecrm.campaigns import CampaignProgress
from ecrm.channels import SMTPChannel, WebhookChannel
from ecrm.clock import Clock, ManualClock, SystemClock
from ecrm.crm import CRM, DueRun
from ecrm.customers import CustomerPage
from ecrm.domain.association import AssociationRule, MiningThresholds
from ecrm.domain.association_models import AssociationModel
from ecrm.domain.audience import AudienceMember
from ecrm.domain.audit import AuditEntry
from ecrm.domain.automation import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyTrigger,
    JourneyTriggerKind,
    Step,
)
from ecrm.domain.business_hours import BusinessCalendar
from ecrm.domain.campaigns import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    CouponOffer,
    MemberStatus,
    Variant,
)
from ecrm.domain.case_figures import CaseFigures
from ecrm.domain.cases import (
    Case,
    CaseMessage,
    CaseStatus,
    CaseType,
    MessageKind,
    Priority,
    SLABreach,
    SLAMetric,
    StatusChange,
    Survey,
    SurveyKind,
)
from ecrm.domain.consent import (
    CONSENT_CHANNELS,
    CONSENT_PURPOSES,
    Consent,
    ConsentChange,
    OptInLevel,
)
from ecrm.domain.consent_tokens import ConsentToken, TokenAction
from ecrm.domain.contact_policy import ContactPolicy, FrequencyCap, QuietHours
from ecrm.domain.coupons import Coupon, CouponIssue, CouponRedemption, DiscountKind
from ecrm.domain.customers import Account, Address, Customer, CustomerMerge
from ecrm.domain.earning import (
    BaseRate,
    BirthdayMonthBonus,
    Bonus,
    CampaignMultiplier,
    EarnContext,
    EarnQuote,
    EarnRule,
    FirstPurchaseBonus,
    Multiplier,
    NthPurchaseBonus,
    ProductBonus,
    Rounding,
    TierMultiplier,
)
from ecrm.domain.inbound import InboundEvent, InboundMessage, InboundResult, Sender
from ecrm.domain.interactions import Channel, Interaction, InteractionKind
from ecrm.domain.loyalty import (
    ClawbackPolicy,
    LedgerTotals,
    PointLot,
    PointsBalance,
    PointsTransaction,
    TransactionKind,
)
from ecrm.domain.orders import CustomerOrderSummary, Order, OrderLine, OrderStatus, Refund
from ecrm.domain.outbox import (
    Cancel,
    Defer,
    DispatchReport,
    MessageStatus,
    OutboxMessage,
    RetryPolicy,
    Send,
)
from ecrm.domain.privacy import Redaction
from ecrm.domain.program import LoyaltyProgram
from ecrm.domain.recommendations import (
    Activity,
    Reason,
    ReasonKind,
    RecommendationRule,
    Recommendations,
    RuleKind,
    Suggestion,
    Trigger,
)
from ecrm.domain.referrals import Referral, ReferralReward
from ecrm.domain.segment_fields import Param, SegmentField, ValueType
from ecrm.domain.segment_rules import And, Condition, F, Not, Op, Or, RuleError
from ecrm.domain.segments import (
    Membership,
    MembershipChange,
    MembershipChangeKind,
    Segment,
    SegmentKind,
)
from ecrm.domain.sla import CaseSLA, ClockReading, SLATarget, SupportPolicy
from ecrm.domain.suppression import Suppression, SuppressionReason
from ecrm.domain.template_nodes import TemplateError
from ecrm.domain.templates import Template
from ecrm.domain.tiers import Tier, TierChange, TierPolicy, TierStatus
from ecrm.domain.timeline import TimelineEvent, TimelinePage
from ecrm.errors import (
    BackendError,
    ConflictError,
    DeliveryError,
    DuplicateKey,
    ECRMError,
    NotFound,
    SchemaMissing,
    TransientError,
    ValidationError,
)
from ecrm.hookspecs import hookimpl, hookspec
from ecrm.importing import ImportReport, RejectedRow, read_customers_csv, read_orders_csv
from ecrm.journeys import JourneyRunReport
from ecrm.privacy import PurgeReport
from ecrm.recommendations import SuggestionRequest
from ecrm.segments import MembershipDelta

__version__ = "0.1.0.dev0"

__all__ = [
    "Account",
    "Activity",
    "Address",
    "And",
    "AssociationModel",
    "AssociationRule",
    "AudienceMember",
    "AuditEntry",
    "AuditPage",
    "BackendError",
    "BaseRate",
    "BirthdayMonthBonus",
    "Bonus",
    "BusinessCalendar",
    "CONSENT_CHANNELS",
    "CONSENT_PURPOSES",
    "CRM",
    "Campaign",
    "CampaignMember",
    "CampaignMultiplier",
    "CampaignProgress",
    "CampaignStatus",
    "Cancel",
    "Case",
    "CaseFigures",
    "CaseMessage",
    "CaseSLA",
    "CaseStatus",
    "CaseType",
    "Channel",
    "ClawbackPolicy",
    "Clock",
    "ClockReading",
    "Condition",
    "ConflictError",
    "Consent",
    "ConsentChange",
    "ConsentToken",
    "ContactPolicy",
    "Coupon",
    "CouponIssue",
    "CouponOffer",
    "CouponRedemption",
    "Customer",
    "CustomerMerge",
    "CustomerOrderSummary",
    "CustomerPage",
    "Defer",
    "DeliveryError",
    "DiscountKind",
    "DispatchReport",
    "DueRun",
    "DuplicateKey",
    "ECRMError",
    "EarnContext",
    "EarnQuote",
    "EarnRule",
    "Enrollment",
    "EnrollmentStatus",
    "F",
    "FirstPurchaseBonus",
    "FrequencyCap",
    "ImportReport",
    "InboundEvent",
    "InboundMessage",
    "InboundResult",
    "Interaction",
    "InteractionKind",
    "Journey",
    "JourneyRunReport",
    "JourneyTrigger",
    "JourneyTriggerKind",
    "LedgerTotals",
    "LoyaltyProgram",
    "ManualClock",
    "MemberStatus",
    "Membership",
    "MembershipChange",
    "MembershipChangeKind",
    "MembershipDelta",
    "MessageKind",
    "MessageStatus",
    "MiningThresholds",
    "Multiplier",
    "Not",
    "NotFound",
    "NthPurchaseBonus",
    "Op",
    "OptInLevel",
    "Or",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OutboxMessage",
    "Param",
    "PointLot",
    "PointsBalance",
    "PointsTransaction",
    "Priority",
    "ProductBonus",
    "PurgeReport",
    "QuietHours",
    "Reason",
    "ReasonKind",
    "RecommendationRule",
    "Recommendations",
    "Redaction",
    "Referral",
    "ReferralReward",
    "Refund",
    "RejectedRow",
    "RetryPolicy",
    "Rounding",
    "RuleError",
    "RuleKind",
    "SLABreach",
    "SLAMetric",
    "SLATarget",
    "SMTPChannel",
    "SchemaMissing",
    "Segment",
    "SegmentField",
    "SegmentKind",
    "Send",
    "Sender",
    "StatusChange",
    "Step",
    "Suggestion",
    "SuggestionRequest",
    "SupportPolicy",
    "Suppression",
    "SuppressionReason",
    "Survey",
    "SurveyKind",
    "SystemClock",
    "Template",
    "TemplateError",
    "Tier",
    "TierChange",
    "TierMultiplier",
    "TierPolicy",
    "TierStatus",
    "TimelineEvent",
    "TimelinePage",
    "TokenAction",
    "TransactionKind",
    "TransientError",
    "Trigger",
    "ValidationError",
    "ValueType",
    "Variant",
    "WebhookChannel",
    "hookimpl",
    "hookspec",
    "read_customers_csv",
    "read_orders_csv",
]
