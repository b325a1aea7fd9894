"""SQL repository of campaigns and the members of their audiences."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, Select, delete, func, insert, select, update

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.campaigns import (
    Campaign,
    CampaignMember,
    CampaignStatus,
    CouponOffer,
    MemberStatus,
    Variant,
)

_c = tables.campaigns
_m = tables.campaign_members
#: Members per executemany.
_INSERT_BATCH = 5000


class SQLCampaignRepository(_TenantScoped):
    """Campaigns in ``ecrm_campaigns``, their members in ``ecrm_campaign_members``."""

    # -- campaigns -----------------------------------------------------------------------

    def add(self, campaign: Campaign) -> None:
        """Insert; the keys refuse a taken id or name."""
        self._conn.execute(insert(_c), _campaign_params(self._tenant, campaign))

    def get(self, campaign_id: str, *, for_update: bool = False) -> Campaign | None:
        """The campaign, or None; ``for_update`` locks its row."""
        query = select(_c).where(self._mine(_c), _c.c.id == campaign_id)
        if for_update:
            query = query.with_for_update()
        found = self._campaigns(query)
        return found[0] if found else None

    def by_name(self, name: str) -> Campaign | None:
        """The campaign with exactly this name (compared again: MySQL pads spaces)."""
        found = self._campaigns(select(_c).where(self._mine(_c), _c.c.name == name))
        return next((campaign for campaign in found if campaign.name == name), None)

    def all(self, status: CampaignStatus | None) -> list[Campaign]:
        """Every campaign (with ``status`` only, when given), oldest first."""
        query = select(_c).where(self._mine(_c))
        if status is not None:
            query = query.where(_c.c.status == status.value)
        return sorted(self._campaigns(query), key=lambda c: (c.created_at, c.id))

    def replace(self, campaign: Campaign) -> None:
        """Overwrite every column of the stored campaign."""
        params = _campaign_params(self._tenant, campaign)
        del params["tenant_id"], params["id"]
        self._conn.execute(update(_c).where(self._mine(_c), _c.c.id == campaign.id)
                           .values(**params))

    def due(self, now: datetime) -> list[str]:
        """Ids of the campaigns to launch or to go on with: scheduled at or before
        ``now``, or sending."""
        query = select(_c.c.id).where(self._mine(_c), (
            (_c.c.status == CampaignStatus.SCHEDULED.value) & (_c.c.scheduled_at <= now))
            | (_c.c.status == CampaignStatus.SENDING.value))
        return sorted(self._conn.execute(query).scalars())

    # -- members -------------------------------------------------------------------------

    def add_members(self, members: Collection[CampaignMember]) -> None:
        """Insert in batches of one executemany each."""
        for batch in chunks(members, _INSERT_BATCH):
            _insert_many(self._conn, _m, [_member_params(self._tenant, m) for m in batch])

    def members(self, campaign_id: str, *, after: str | None, limit: int
                ) -> list[CampaignMember]:
        """A page of members by customer id, along the primary key."""
        query = select(_m).where(self._mine(_m), _m.c.campaign_id == campaign_id)
        if after is not None:
            query = query.where(_m.c.customer_id > after)
        return self._members(query.order_by(_m.c.customer_id).limit(limit))

    def member_counts(self, campaign_id: str) -> Counter[tuple[str, MemberStatus]]:
        """How many members per (variant, status)."""
        query = (select(_m.c.variant, _m.c.status, func.count())
                 .where(self._mine(_m), _m.c.campaign_id == campaign_id)
                 .group_by(_m.c.variant, _m.c.status))
        return Counter({(variant, MemberStatus(status)): count
                        for variant, status, count in self._conn.execute(query)})

    def memberships_of(self, customer_id: str) -> list[CampaignMember]:
        """The customer's memberships, by campaign id."""
        found = self._members(select(_m).where(self._mine(_m), _m.c.customer_id == customer_id))
        return sorted(found, key=lambda m: m.campaign_id)

    def absorb_member(self, duplicate_id: str, survivor_id: str) -> None:
        """After a merge: drop the duplicate's rows of campaigns the survivor is in too,
        move the rest (read first: MySQL refuses a DELETE reading its own table)."""
        theirs = [m.campaign_id for m in self.memberships_of(duplicate_id)]
        mine = {m.campaign_id for m in self.memberships_of(survivor_id)}
        both = sorted(mine.intersection(theirs))
        for batch in chunks(both, IN_CHUNK):
            self._conn.execute(delete(_m).where(self._mine(_m), _m.c.customer_id == duplicate_id,
                                                _m.c.campaign_id.in_(batch)))
        if len(both) < len(theirs):
            self._conn.execute(update(_m).where(self._mine(_m), _m.c.customer_id == duplicate_id)
                               .values(customer_id=survivor_id))

    def _campaigns(self, query: Select[Any]) -> list[Campaign]:
        return [_campaign_from_row(row) for row in self._conn.execute(query).mappings()]

    def _members(self, query: Select[Any]) -> list[CampaignMember]:
        return [_member_from_row(row) for row in self._conn.execute(query).mappings()]


def _campaign_params(tenant: str, campaign: Campaign) -> dict[str, Any]:
    coupon = campaign.coupon
    content = {
        "variants": [{"name": v.name, "body": v.body, "subject": v.subject, "html": v.html,
                      "weight": v.weight} for v in campaign.variants],
        "holdout": campaign.holdout,
        "coupon": None if coupon is None else {
            "code": coupon.code, "terms": coupon.terms and dict(coupon.terms),
            "prefix": coupon.prefix},
        "cost": None if campaign.cost is None else str(campaign.cost),
        "priority": campaign.priority,
        "attribution_seconds": int(campaign.attribution_window.total_seconds()),
        "unsubscribe_url": campaign.unsubscribe_url,
    }
    return {"tenant_id": tenant, "id": campaign.id, "name": campaign.name,
            "channel": campaign.channel, "purpose": campaign.purpose,
            "segment_id": campaign.segment_id, "status": campaign.status.value,
            "content": content, "scheduled_at": campaign.scheduled_at,
            "launched_at": campaign.launched_at, "finished_at": campaign.finished_at,
            "created_at": campaign.created_at, "updated_at": campaign.updated_at,
            "cursor": campaign.cursor}


def _campaign_from_row(row: RowMapping) -> Campaign:
    content = row["content"]
    coupon = content["coupon"]
    return Campaign(
        id=row["id"], name=row["name"], channel=row["channel"], purpose=row["purpose"],
        segment_id=row["segment_id"], status=CampaignStatus(row["status"]),
        variants=tuple(Variant(**v) for v in content["variants"]),
        created_at=row["created_at"], updated_at=row["updated_at"],
        holdout=content["holdout"],
        coupon=None if coupon is None else CouponOffer(**coupon),
        scheduled_at=row["scheduled_at"], launched_at=row["launched_at"],
        finished_at=row["finished_at"],
        cost=None if content["cost"] is None else Decimal(content["cost"]),
        priority=content["priority"],
        attribution_window=timedelta(seconds=content["attribution_seconds"]),
        unsubscribe_url=content["unsubscribe_url"], cursor=row["cursor"])


def _member_params(tenant: str, member: CampaignMember) -> dict[str, Any]:
    return {"tenant_id": tenant, "campaign_id": member.campaign_id,
            "customer_id": member.customer_id, "variant": member.variant,
            "status": member.status.value, "at": member.at, "message_id": member.message_id,
            "coupon_code": member.coupon_code, "reason": member.reason}


def _member_from_row(row: RowMapping) -> CampaignMember:
    return CampaignMember(
        campaign_id=row["campaign_id"], customer_id=row["customer_id"],
        variant=row["variant"], status=MemberStatus(row["status"]), at=row["at"],
        message_id=row["message_id"], coupon_code=row["coupon_code"], reason=row["reason"])
