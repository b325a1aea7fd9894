"""What the demo built, in numbers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

#: How each count is shown by :meth:`DemoSummary.lines`.
LABELS = {
    "customers": "customers", "accounts": "B2B accounts", "orders": "orders",
    "cancellations": "cancelled orders", "refunds": "refunds",
    "interactions": "interactions", "consents": "marketing consents",
    "cases": "support cases", "survey_answers": "CSAT answers",
    "sla_breaches": "cases with an SLA breach", "coupons": "coupons",
    "coupon_redemptions": "coupon redemptions", "points_redemptions": "points redemptions",
    "points_issued": "points issued", "points_outstanding": "points outstanding",
    "points_redeemed": "points redeemed", "points_expired": "points expired",
    "campaigns": "campaigns", "messages_sent": "campaign e-mails sent",
    "association_rules": "association rules",
}


@dataclass(frozen=True)
class DemoSummary:
    """Counts of what :func:`ecrm.demo.build_demo_shop` wrote, the period its history
    covers and how long it took."""

    start: datetime
    end: datetime
    seconds: float
    customers: int = 0
    accounts: int = 0
    orders: int = 0
    cancellations: int = 0
    refunds: int = 0
    interactions: int = 0
    consents: int = 0
    cases: int = 0
    survey_answers: int = 0
    sla_breaches: int = 0
    coupons: int = 0
    coupon_redemptions: int = 0
    points_redemptions: int = 0
    points_issued: int = 0
    points_outstanding: int = 0
    points_redeemed: int = 0
    points_expired: int = 0
    campaigns: int = 0
    messages_sent: int = 0
    association_rules: int = 0

    @classmethod
    def of(cls, crm: Any, counts: Mapping[str, int], start: datetime, end: datetime,
           rules: int, seconds: float) -> DemoSummary:
        totals = crm.loyalty.totals()
        known = {f.name for f in fields(cls)}
        return cls(start=start, end=end, seconds=seconds, association_rules=rules,
                   points_issued=totals.issued, points_outstanding=totals.outstanding,
                   points_redeemed=totals.redeemed, points_expired=totals.expired,
                   **{k: v for k, v in counts.items() if k in known})

    def counts(self) -> dict[str, int]:
        """Every count by name, without the period and the time taken."""
        return {name: getattr(self, name) for name in LABELS}

    def lines(self) -> list[str]:
        """The summary as aligned lines of text."""
        width = max(len(label) for label in LABELS.values())
        head = (f"demo shop: {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} (UTC), "
                f"built in {self.seconds:.1f} s")
        return [head] + [f"  {LABELS[name]:<{width}}  {value:>10,}"
                         for name, value in self.counts().items()]
