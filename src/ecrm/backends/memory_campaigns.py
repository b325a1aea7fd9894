"""The memory backend's campaigns and their members, in the tenant's journaled tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.campaigns import Campaign, CampaignMember, CampaignStatus, MemberStatus

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


def _key(campaign_id: str, customer_id: str) -> str:
    return f"{campaign_id} {customer_id}"  # ids hold no spaces


class MemoryCampaignRepository:
    """Campaigns by id (unique name); members by campaign and customer."""

    def __init__(self, data: _TenantData) -> None:
        self._campaigns = data.campaigns
        self._members = data.campaign_members

    def add(self, campaign: Campaign) -> None:
        self._campaigns.insert(campaign.id, campaign)

    def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        return self._campaigns.rows.get(campaign_id)

    def by_name(self, name: str) -> Campaign | None:
        return self._campaigns.lookup("name", name)

    def all(self, status: CampaignStatus | None) -> list[Campaign]:
        found = [c for c in self._campaigns.rows.values() if status in (None, c.status)]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def replace(self, campaign: Campaign) -> None:
        self._campaigns.update(campaign.id, campaign)

    def due(self, now: datetime) -> list[str]:
        return sorted(c.id for c in self._campaigns.rows.values()
                      if c.status == CampaignStatus.SENDING
                      or (c.status == CampaignStatus.SCHEDULED
                          and c.scheduled_at is not None and c.scheduled_at <= now))

    def add_members(self, members: Collection[CampaignMember]) -> None:
        for member in members:
            self._members.insert(_key(member.campaign_id, member.customer_id), member)

    def members(self, campaign_id: str, *, after: str | None, limit: int
                ) -> list[CampaignMember]:
        found = sorted((m for m in self._members.rows.values()
                        if m.campaign_id == campaign_id
                        and (after is None or m.customer_id > after)),
                       key=lambda m: m.customer_id)
        return found[:limit]

    def member_counts(self, campaign_id: str) -> Counter[tuple[str, MemberStatus]]:
        return Counter((m.variant, m.status) for m in self._members.rows.values()
                       if m.campaign_id == campaign_id)

    def memberships_of(self, customer_id: str) -> list[CampaignMember]:
        found = [m for m in self._members.rows.values() if m.customer_id == customer_id]
        return sorted(found, key=lambda m: m.campaign_id)

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        for member in self.memberships_of(duplicate_id):
            self._members.delete(_key(member.campaign_id, duplicate_id))
            if _key(member.campaign_id, survivor_id) not in self._members.rows:
                self._members.insert(_key(member.campaign_id, survivor_id),
                                     attrs.evolve(member, customer_id=survivor_id))
