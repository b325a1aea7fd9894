"""What a campaign brought in: per variant (and the control group) how many members were
sent to, how many messages were delivered, opened and clicked, how many members ordered
within the attribution window and for how much, and the A/B test of each variant against
the control group (or against the first variant when nobody was held out).

Members who could not be sent to (no consent, suppressed, no address) are left out of
every figure: the control group holds only members who could have been sent to, so
the comparison is like with like.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain.campaigns import CONTROL, Campaign, CampaignMember, MemberStatus
from ecrm.domain.orders import CustomerTotals
from ecrm.domain.outbox import MessageStatus, OutboxMessage
from ecrm.errors import NotFound, ValidationError
from ecrm.message_events import MessageEvent, recorded

if TYPE_CHECKING:
    from ecrm.analytics.experiments import ABTestReport
    from ecrm.crm import CRM

#: Members read per page.
PAGE = 5000


@attrs.frozen
class VariantReport:
    """One variant's figures; for the control group only ``members``, ``converted``,
    ``orders`` and ``revenue`` mean anything."""

    variant: str
    members: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    converted: int
    orders: int
    revenue: Decimal

    @property
    def conversion_rate(self) -> float:
        """``converted / members`` (0 without members)."""
        return self.converted / self.members if self.members else 0.0


@attrs.frozen
class CampaignReport:
    """A campaign's results: ``variants`` (the control group first, when there is one),
    the window orders were counted in, the cost per order of the variants sent, and
    ``test``, the A/B test (None when there are fewer than two groups of two)."""

    campaign: Campaign
    variants: tuple[VariantReport, ...]
    start: datetime
    end: datetime
    cost_per_order: Decimal | None
    test: ABTestReport | None

    def variant(self, name: str) -> VariantReport:
        """The figures of variant ``name`` (``"control"`` for the control group)."""
        for row in self.variants:
            if row.variant == name:
                return row
        raise ValidationError("variant", f"no variant {name!r} in this report")


def report(crm: CRM, campaign_id: str, *, alpha: float = 0.05) -> CampaignReport:
    """The report of a launched campaign. :raises NotFound: no such campaign;
    :raises ValidationError: on ``status`` when it was never launched."""
    campaign, groups, counts, totals = crm.transact(
        lambda uow: _gather(crm, uow, campaign_id), read_only=True)
    assert campaign.launched_at is not None
    start, end = campaign.launched_at, campaign.launched_at + campaign.attribution_window
    names = [CONTROL] * bool(groups.get(CONTROL)) + [v.name for v in campaign.variants]
    variants = tuple(_variant(name, groups.get(name, []), counts.get(name, (0, 0, 0, 0)),
                              totals) for name in names)
    treated = sum(v.orders for v in variants if v.variant != CONTROL)
    cost = campaign.cost
    return CampaignReport(
        campaign, variants, start, end,
        None if cost is None or not treated else cost / treated,
        _ab_test(crm, {n: groups.get(n, []) for n in names}, start, end, alpha))


def _variant(name: str, ids: list[str], counts: tuple[int, int, int, int],
             totals: Mapping[str, CustomerTotals]) -> VariantReport:
    bought = [totals[cid] for cid in ids if cid in totals]
    return VariantReport(name, len(ids), *counts, len(bought), sum(t.orders for t in bought),
                         sum((t.revenue for t in bought), Decimal(0)))


def _gather(crm: CRM, uow: UnitOfWork, campaign_id: str
            ) -> tuple[Campaign, dict[str, list[str]], dict[str, tuple[int, int, int, int]],
                       dict[str, CustomerTotals]]:
    """The campaign, its comparable members by variant, per variant the messages sent,
    delivered (sent and not bounced), opened and clicked, and the members' orders in
    the attribution window."""
    campaign = uow.campaigns.get(campaign_id)
    if campaign is None:
        raise NotFound("campaign", campaign_id)
    if campaign.launched_at is None:
        raise ValidationError("status", "the campaign has not been launched")
    groups: dict[str, list[str]] = defaultdict(list)
    for member in _members(uow, campaign.id):
        if member.status in (MemberStatus.QUEUED, MemberStatus.CONTROL):
            groups[member.variant].append(member.customer_id)
    everyone = [cid for ids in groups.values() for cid in ids]
    sent = uow.outbox.find(status=MessageStatus.SENT, campaign_id=campaign.id,
                           customer_id=None, limit=max(len(everyone), 1))
    totals = uow.analytics.order_totals(
        everyone, campaign.launched_at, campaign.launched_at + campaign.attribution_window,
        crm.currency)
    return campaign, dict(groups), _message_counts(crm, uow, sent), totals


def _members(uow: UnitOfWork, campaign_id: str) -> list[CampaignMember]:
    found: list[CampaignMember] = []
    after = None
    while page := uow.campaigns.members(campaign_id, after=after, limit=PAGE):
        found.extend(page)
        after = page[-1].customer_id
    return found


def _message_counts(crm: CRM, uow: UnitOfWork, sent: list[OutboxMessage]
                    ) -> dict[str, tuple[int, int, int, int]]:
    """Per variant: sent, delivered, opened, clicked."""
    events = {event: recorded(uow, crm, sent, event) for event in MessageEvent}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for message in sent:
        row = counts[message.variant or ""]
        row[0] += 1
        row[1] += message.id not in events[MessageEvent.BOUNCED]
        row[2] += message.id in events[MessageEvent.OPENED]
        row[3] += message.id in events[MessageEvent.CLICKED]
    return {name: (a, b, c, d) for name, (a, b, c, d) in counts.items()}


def _ab_test(crm: CRM, groups: Mapping[str, list[str]], start: datetime, end: datetime,
             alpha: float) -> ABTestReport | None:
    """The A/B test of the groups with at least two members, control first; None when
    fewer than two such groups."""
    usable = {name: ids for name, ids in groups.items() if len(ids) >= 2}
    if len(usable) < 2:
        return None
    return crm.analytics.ab_test(usable, start=start, end=end, control=next(iter(usable)),
                                 alpha=alpha)
