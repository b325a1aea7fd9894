"""Campaigns (``crm.campaigns``): one message to a segment, in variants, with a hold-out.

A campaign is written as a draft, scheduled or launched. Launching refreshes its
segment and queues the members in chunks (see :mod:`ecrm.campaign_queue`): per member a
variant (or the control group) is drawn deterministically, consent and the suppression
list are checked, a coupon is issued when the campaign offers one, the templates are
rendered, and the message goes to the outbox in the same unit of work as the member's
record. The dispatcher (``crm.messages.dispatch``) delivers them under the contact
policy. A host calls :meth:`CampaignService.run_due` from its scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from ecrm import campaign_reports
from ecrm.backends.base import UnitOfWork
from ecrm.campaign_queue import queue_chunk, read_chunk
from ecrm.campaign_reports import CampaignReport
from ecrm.domain import campaigns as rules
from ecrm.domain import consent as consent_rules
from ecrm.domain import coupons as coupon_rules
from ecrm.domain import validation as check
from ecrm.domain.campaign_content import compile_variants
from ecrm.domain.campaigns import (
    DEFAULT_ATTRIBUTION,
    Campaign,
    CampaignMember,
    CampaignStatus,
    CouponOffer,
    MemberStatus,
    Variant,
)
from ecrm.domain.ids import new_id
from ecrm.domain.money import to_decimal
from ecrm.domain.segments import SegmentKind
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: What may change while a campaign is a draft or scheduled.
EDITABLE = ("name", "segment", "channel", "purpose", "variants", "body", "subject", "html",
            "holdout", "coupon", "scheduled_at", "cost", "priority", "attribution_window",
            "unsubscribe_url")
_OPEN = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED)
_VALID_DAYS = "valid_days"


@attrs.frozen
class CampaignProgress:
    """Where a campaign stands: its status and how many members are in each
    (variant, status)."""

    campaign: Campaign
    members: Mapping[tuple[str, MemberStatus], int]

    @property
    def queued(self) -> int:
        """Members a message was queued for."""
        return self._count(MemberStatus.QUEUED)

    @property
    def held_out(self) -> int:
        """Members of the control group."""
        return self._count(MemberStatus.CONTROL)

    @property
    def skipped(self) -> int:
        """Members who got no message (no consent, suppressed, no address, ...)."""
        return self._count(MemberStatus.SKIPPED)

    def _count(self, status: MemberStatus) -> int:
        return sum(n for (_, s), n in self.members.items() if s == status)


class CampaignService:
    """The ``crm.campaigns`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    # -- writing -----------------------------------------------------------------------

    def create(self, name: str, *, segment: str, body: str | None = None,
               subject: str | None = None, html: str | None = None,
               variants: Sequence[Variant] | None = None, channel: str = "email",
               purpose: str = consent_rules.MARKETING, holdout: float = 0.0,
               coupon: CouponOffer | None = None, scheduled_at: datetime | None = None,
               cost: Decimal | int | str | None = None, priority: int = 5,
               attribution_window: timedelta = DEFAULT_ATTRIBUTION,
               unsubscribe_url: str | None = None) -> Campaign:
        """Create a campaign: a draft, or scheduled when ``scheduled_at`` is given.

        :param segment: the id or name of the saved segment whose members are the
            audience (a dynamic segment is refreshed at launch).
        :param body: the message template (with ``subject`` and ``html``), for a
            campaign of one variant; or give ``variants``.
        :param holdout: the share of the audience held out as the control group.
        :param coupon: a coupon for every recipient (:class:`~ecrm.CouponOffer`).
        :param cost: what the campaign costs, in the shop's currency.
        :param attribution_window: orders this long after a member's message (or, for
            the control group, after the launch) count as conversions.
        :param unsubscribe_url: ``https://.../unsubscribe?t={token}``: each message's
            ``unsubscribe_url`` in the context (needs ``CRM(secret=...)``).
        :raises ValidationError: a bad field, named; a template that does not parse or
            uses a name the context lacks (``variants[i]``).
        :raises ConflictError: a campaign of that name exists.
        """
        fields = {k: v for k, v in locals().items() if k not in ("self", "name")}
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Campaign:
            campaign = self._build(uow, rules.name(name), fields, now, campaign_id=new_id(),
                                   created_at=now)
            if uow.campaigns.by_name(campaign.name) is not None:
                raise ConflictError(f"a campaign named {campaign.name!r} exists")
            uow.campaigns.add(campaign)
            return campaign

        return self._crm.transact(work)

    def update(self, campaign_id: str, **changes: Any) -> Campaign:
        """Change a draft or scheduled campaign (the keywords of :meth:`create`; giving
        ``scheduled_at=None`` makes it a draft again).

        :raises ValidationError: a bad field, or a campaign already launched
            (``status``).
        """
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise TypeError(f"unexpected field(s): {', '.join(unknown)}")
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Campaign:
            stored = self._open(uow, campaign_id)
            fields = _fields_of(stored) | changes
            if "variants" in changes:
                fields.update(body=None, subject=None, html=None)
            elif {"body", "subject", "html"} & changes.keys():
                fields["variants"] = None
            name = rules.name(fields.pop("name"))
            campaign = self._build(uow, name, fields, now, campaign_id=stored.id,
                                   created_at=stored.created_at)
            clash = uow.campaigns.by_name(campaign.name)
            if clash is not None and clash.id != stored.id:
                raise ConflictError(f"a campaign named {campaign.name!r} exists")
            uow.campaigns.replace(campaign)
            return campaign

        return self._crm.transact(work)

    def cancel(self, campaign_id: str) -> Campaign:
        """Stop a campaign that is not sent yet; messages it queued and the outbox has
        not sent are cancelled too. Cancelling again changes nothing."""
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Campaign:
            stored = self._locked(uow, campaign_id)
            if stored.status in (CampaignStatus.CANCELLED, CampaignStatus.SENT):
                if stored.status == CampaignStatus.SENT:
                    raise ValidationError("status", "the campaign is sent already")
                return stored
            cancelled = attrs.evolve(stored, status=CampaignStatus.CANCELLED,
                                     finished_at=now, updated_at=now)
            uow.campaigns.replace(cancelled)
            self._crm.messages.cancel_campaign(uow, stored.id, "campaign cancelled")
            return cancelled

        return self._crm.transact(work)

    def launch(self, campaign_id: str) -> CampaignProgress:
        """Launch a draft or scheduled campaign now and queue its whole audience (or go
        on with one that is sending). Safe to repeat and to run in several processes:
        each member is queued once."""
        self._start(campaign_id, self._crm.clock.now(), due_only=False)
        self._queue_all(campaign_id)
        return self.progress(campaign_id)

    def run_due(self, now: datetime | None = None) -> list[CampaignProgress]:
        """Launch every scheduled campaign whose time has come and finish queuing those
        sending (one a crash interrupted); call it from the host's scheduler."""
        moment = check.aware("now", now) if now is not None else self._crm.clock.now()
        assert moment is not None
        due = self._crm.transact(lambda uow: uow.campaigns.due(moment), read_only=True)
        done = []
        for campaign_id in due:
            self._start(campaign_id, moment, due_only=True)
            self._queue_all(campaign_id)
            done.append(self.progress(campaign_id))
        return done

    # -- reading -----------------------------------------------------------------------

    def get(self, campaign_id: str) -> Campaign:
        """The campaign. :raises NotFound: no such campaign."""
        return self._crm.transact(lambda uow: self._get(uow, campaign_id), read_only=True)

    def find(self, name: str) -> Campaign | None:
        """The campaign with this name, or None."""
        return self._crm.transact(lambda uow: uow.campaigns.by_name(name), read_only=True)

    def list(self, *, status: CampaignStatus | str | None = None) -> list[Campaign]:
        """Every campaign (with ``status`` only, when given), oldest first."""
        wanted = None if status is None else check.choice(CampaignStatus, "status")(status)
        return self._crm.transact(lambda uow: uow.campaigns.all(wanted), read_only=True)

    def progress(self, campaign_id: str) -> CampaignProgress:
        """The campaign and its member counts."""
        def work(uow: UnitOfWork) -> CampaignProgress:
            campaign = self._get(uow, campaign_id)
            return CampaignProgress(campaign, dict(uow.campaigns.member_counts(campaign.id)))

        return self._crm.transact(work, read_only=True)

    def report(self, campaign_id: str, *, alpha: float = 0.05) -> CampaignReport:
        """What a launched campaign brought in, per variant and for the control group,
        with the A/B test (see :mod:`ecrm.campaign_reports`)."""
        return campaign_reports.report(self._crm, campaign_id, alpha=alpha)

    def members(self, campaign_id: str, *, after: str | None = None, limit: int = 1000
                ) -> list[CampaignMember]:
        """A page of the campaign's members by customer id (``after`` the last one of
        the previous page)."""
        size = check.positive_int("limit", limit)

        def work(uow: UnitOfWork) -> list[CampaignMember]:
            campaign = self._get(uow, campaign_id)
            return uow.campaigns.members(campaign.id, after=after, limit=size)

        return self._crm.transact(work, read_only=True)

    # -- helpers -----------------------------------------------------------------------

    def _build(self, uow: UnitOfWork, name: str, fields: Mapping[str, Any], now: datetime,
               *, campaign_id: str, created_at: datetime) -> Campaign:
        """A campaign from :meth:`create`'s keywords, every one checked."""
        channel = consent_rules.channel(fields["channel"])
        variants = _variants(fields)
        coupon = self._coupon(fields["coupon"])
        if coupon is not None and coupon.code is not None \
                and uow.coupons.get(coupon.code) is None:
            raise ValidationError("coupon", f"no coupon with code {coupon.code!r}")
        url = rules.unsubscribe_url(fields["unsubscribe_url"])
        compile_variants(variants, has_coupon=coupon is not None,
                         has_unsubscribe=url is not None)
        scheduled = check.aware("scheduled_at", fields["scheduled_at"], required=False)
        cost = fields["cost"]
        return Campaign(
            id=campaign_id, name=name, channel=channel,
            purpose=consent_rules.purpose(fields["purpose"]),
            segment_id=_segment_id(uow, fields["segment"]), variants=variants,
            status=CampaignStatus.DRAFT if scheduled is None else CampaignStatus.SCHEDULED,
            created_at=created_at, updated_at=now, holdout=rules.holdout(fields["holdout"]),
            coupon=coupon, scheduled_at=scheduled,
            cost=None if cost is None else _cost(cost),
            priority=rules.priority(fields["priority"]),
            attribution_window=rules.attribution_window(fields["attribution_window"]),
            unsubscribe_url=url)

    def check_offer(self, offer: object) -> CouponOffer | None:
        """The coupon offer checked as :meth:`create` checks it (journeys share it).

        :raises ValidationError: on ``coupon``."""
        return self._coupon(offer)

    def _coupon(self, offer: object) -> CouponOffer | None:
        if offer is None:
            return None
        if not isinstance(offer, CouponOffer) or (offer.code is None) == (offer.terms is None):
            raise ValidationError("coupon", "expected ecrm.CouponOffer(code=...) or "
                                            "CouponOffer(terms={...})")
        if offer.terms is None:
            return attrs.evolve(offer, code=coupon_rules.normalise_code("coupon", offer.code))
        terms = dict(offer.terms)
        days = terms.pop(_VALID_DAYS, None)
        if days is not None:
            check.positive_int(f"coupon.{_VALID_DAYS}", days)
        if {"valid_from", "valid_until", "max_uses", "issued_only"} & terms.keys():
            raise ValidationError("coupon", "per-recipient codes are single-use and issued; "
                                            "give valid_days, not dates or limits")
        try:
            self._crm.coupons.check_terms(terms)
        except TypeError as error:
            raise ValidationError("coupon", str(error)) from None
        return attrs.evolve(offer, terms=_json_terms({**terms, _VALID_DAYS: days}))

    def _start(self, campaign_id: str, now: datetime, *, due_only: bool) -> None:
        """Refresh a dynamic audience and mark the campaign sending (once)."""
        campaign = self.get(campaign_id)
        if campaign.status not in _OPEN:
            return
        segment = self._crm.segments.get(campaign.segment_id)
        if segment.kind == SegmentKind.DYNAMIC:
            self._crm.segments.refresh(segment.id, as_of=now)

        def work(uow: UnitOfWork) -> None:
            stored = self._locked(uow, campaign_id)
            due = stored.scheduled_at is not None and stored.scheduled_at <= now
            if stored.status in _OPEN and (due or not due_only):
                uow.campaigns.replace(attrs.evolve(
                    stored, status=CampaignStatus.SENDING, launched_at=now, updated_at=now))

        self._crm.transact(work)

    def _queue_all(self, campaign_id: str) -> None:
        """Queue chunk after chunk until the campaign is sent (or stopped)."""
        while True:
            chunk = read_chunk(self._crm, campaign_id)
            if chunk is None:
                return
            if self._crm.transact(lambda uow, c=chunk: queue_chunk(self._crm, uow, c)):
                return

    def _get(self, uow: UnitOfWork, campaign_id: str) -> Campaign:
        found = uow.campaigns.get(campaign_id)
        if found is None:
            raise NotFound("campaign", campaign_id)
        return found

    def _locked(self, uow: UnitOfWork, campaign_id: str) -> Campaign:
        found = uow.campaigns.get(campaign_id, for_update=True)
        if found is None:
            raise NotFound("campaign", campaign_id)
        return found

    def _open(self, uow: UnitOfWork, campaign_id: str) -> Campaign:
        stored = self._locked(uow, campaign_id)
        if stored.status not in _OPEN:
            raise ValidationError("status", f"the campaign is {stored.status.value}; only "
                                            "drafts and scheduled campaigns change")
        return stored


def _variants(fields: Mapping[str, Any]) -> tuple[Variant, ...]:
    given = fields.get("variants")
    single = {k: fields.get(k) for k in ("body", "subject", "html")}
    if given is not None:
        if any(v is not None for v in single.values()):
            raise ValidationError("variants", "give variants, or body/subject/html, not both")
        return rules.variants(given)
    if single["body"] is None:
        raise ValidationError("body", "give the message body (or variants)")
    return rules.variants([Variant("default", single["body"], single["subject"],
                                   single["html"])])


def _fields_of(campaign: Campaign) -> dict[str, Any]:
    """The keywords :meth:`CampaignService.create` would need to build ``campaign``."""
    return {"name": campaign.name, "segment": campaign.segment_id,
            "channel": campaign.channel, "purpose": campaign.purpose,
            "variants": list(campaign.variants), "body": None, "subject": None,
            "html": None, "holdout": campaign.holdout, "coupon": campaign.coupon,
            "scheduled_at": campaign.scheduled_at, "cost": campaign.cost,
            "priority": campaign.priority,
            "attribution_window": campaign.attribution_window,
            "unsubscribe_url": campaign.unsubscribe_url}


def _segment_id(uow: UnitOfWork, segment: object) -> str:
    name = check.required_text("segment", segment, 100)
    found = uow.segments.get(name) or uow.segments.by_name(name)
    if found is None:
        raise ValidationError("segment", f"no saved segment with id or name {name!r}")
    return found.id


def _cost(value: object) -> Decimal:
    cost = to_decimal("cost", value)
    if cost < 0:
        raise ValidationError("cost", "must not be negative")
    return cost


def _json_terms(terms: Mapping[str, Any]) -> dict[str, Any]:
    """Coupon terms as JSON can hold them (amounts as strings)."""
    return {k: str(v) if isinstance(v, Decimal) else list(v) if isinstance(v, frozenset | set)
            else v for k, v in terms.items() if v is not None}
