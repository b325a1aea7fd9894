"""Queuing a launched campaign's audience, one chunk of members per unit of work.

Each chunk is the next :data:`CHUNK` members of the campaign's segment after the
campaign's ``cursor`` (by customer id). Its unit of work locks the campaign row first, so
workers take turns, and skips members recorded already, so a retried or repeated chunk
queues nobody twice. What needs reads of its own (recommendations) is worked out before
the unit of work opens, from a read of the same page.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain import loyalty as loyalty_rules
from ecrm.domain import outbox
from ecrm.domain.campaign_content import (
    RECOMMENDATIONS,
    CompiledVariant,
    compile_variants,
    coupon_context,
    customer_context,
    points_context,
    recommendations_context,
)
from ecrm.domain.campaigns import (
    CONTROL,
    Campaign,
    CampaignMember,
    CampaignStatus,
    CouponOffer,
    MemberStatus,
    assign,
)
from ecrm.domain.consent import requires_opt_in
from ecrm.domain.consent_tokens import TokenAction
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.domain.suppression import address as suppression_key
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Members per unit of work.
CHUNK = 1000


@attrs.frozen
class _Route:
    channel: str
    purpose: str


@attrs.frozen
class Chunk:
    """What is worked out before a chunk's unit of work: the recommendations of the
    members of the next page, by customer id (none unless the templates use them). A
    member the page gains meanwhile gets an empty list."""

    campaign_id: str
    recommendations: Mapping[str, list[dict[str, Any]]]


def read_chunk(crm: CRM, campaign_id: str) -> Chunk | None:
    """The campaign's next page, or None when it is not sending. The page is read only
    when the templates use recommendations, to work them out beforehand."""
    def read(uow: UnitOfWork) -> tuple[Campaign, list[str]] | None:
        campaign = uow.campaigns.get(campaign_id)
        if campaign is None or campaign.status != CampaignStatus.SENDING:
            return None
        if "recommendations" not in _needs(campaign):
            return campaign, []
        page = uow.segments.members(campaign.segment_id, after=campaign.cursor, limit=CHUNK)
        return campaign, [m.customer_id for m in page]

    found = crm.transact(read, read_only=True)
    if found is None:
        return None
    campaign, ids = found
    suggestions = {cid: recommendations_context(
        crm.recommendations.for_customer(cid, limit=RECOMMENDATIONS)) for cid in ids}
    return Chunk(campaign.id, suggestions)


def queue_chunk(crm: CRM, uow: UnitOfWork, chunk: Chunk) -> bool:
    """Inside ``uow``: record and queue the campaign's next page of members; True when
    the campaign is done (sent, or no longer sending)."""
    campaign = uow.campaigns.get(chunk.campaign_id, for_update=True)
    if campaign is None or campaign.status != CampaignStatus.SENDING:
        return True
    now = crm.clock.now()
    page = uow.segments.member_customers(campaign.segment_id, after=campaign.cursor,
                                         limit=CHUNK)
    ids = [c.id for c in page]
    if page:
        _queue(crm, uow, campaign, page, chunk, now)
    done = len(ids) < CHUNK
    uow.campaigns.replace(attrs.evolve(
        campaign, cursor=ids[-1] if ids else campaign.cursor, updated_at=now,
        status=CampaignStatus.SENT if done else campaign.status,
        finished_at=now if done else None))
    return done


def _queue(crm: CRM, uow: UnitOfWork, campaign: Campaign, fresh: Sequence[Customer],
           chunk: Chunk, now: datetime) -> None:
    """Record every one of ``fresh`` (the page after the campaign's cursor, so none is
    recorded yet: members and the cursor commit together): held out, skipped with the
    reason, or queued with their rendered message."""
    variants = {v.name: v for v in _compiled(campaign)}
    drawn = {c.id: assign(campaign.id, c.id, campaign.variants, campaign.holdout)
             for c in fresh}
    # The control group is checked too: only members who could have been sent to are
    # compared with those who were.
    reasons = reasons_not_to_send(uow, campaign.channel, campaign.purpose, fresh)
    sending = [c.id for c in fresh if drawn[c.id] != CONTROL and c.id not in reasons]
    coupons = issue_coupons(crm, uow, campaign.coupon, sending)
    members: list[CampaignMember] = []
    messages: list[outbox.OutboxMessage] = []
    batch = _Batch.of(crm, campaign, chunk, now)
    for customer in fresh:
        variant = drawn[customer.id]
        if customer.id in reasons:
            members.append(CampaignMember(campaign.id, customer.id, variant,
                                          MemberStatus.SKIPPED, now,
                                          reason=reasons[customer.id]))
        elif variant == CONTROL:
            members.append(CampaignMember(campaign.id, customer.id, CONTROL,
                                          MemberStatus.CONTROL, now))
        else:
            message, member = _message(crm, uow, batch, variants[variant], customer,
                                       coupons.get(customer.id))
            members.append(member)
            if message is not None:
                messages.append(message)
    crm.messages.enqueue(uow, messages, fresh=True)
    uow.campaigns.add_members(members)


def reasons_not_to_send(uow: UnitOfWork, channel: str, purpose: str,
                        customers: Sequence[Customer]) -> dict[str, str]:
    """Why each of ``customers`` who gets no message on ``channel`` for ``purpose``
    gets none: no address, no consent, or a suppressed address (the dispatcher checks
    again when it sends). Campaigns and journeys share it."""
    campaign = _Route(channel, purpose)
    reasons: dict[str, str] = {}
    addresses = {c.id: address_of(c, campaign.channel) for c in customers}
    for cid, address in addresses.items():
        if address is None:
            reasons[cid] = f"no {campaign.channel} address"
    ids = [c.id for c in customers if c.id not in reasons]
    if requires_opt_in(campaign.purpose):
        granted = uow.consents.granted_ids(campaign.channel, ids, campaign.purpose)
        refused = [cid for cid in ids if cid not in granted]
    else:
        refused = [cid for cid in ids if (state := uow.consents.get(
            cid, campaign.channel, campaign.purpose)) is not None and not state.granted]
    for cid in refused:
        reasons[cid] = f"no {campaign.purpose} consent on {campaign.channel}"
    keys = {cid: _suppression_key(campaign.channel, addresses[cid]) for cid in ids
            if cid not in reasons}
    listed = uow.suppressions.suppressed(campaign.channel, [k for k in keys.values() if k])
    for cid, key in keys.items():
        if key in listed:
            reasons[cid] = f"{campaign.channel} address suppressed"
    return reasons


def issue_coupons(crm: CRM, uow: UnitOfWork, offer: CouponOffer | None,
                  customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The coupon context of each recipient, issuing (or minting) the coupons of
    ``offer``. Campaigns and journeys share it."""
    if offer is None or not customer_ids:
        return {}
    if offer.terms is None:
        assert offer.code is not None
        shared = coupon_context(crm.coupons.hand_out(uow, offer.code, customer_ids))
        return {cid: shared for cid in customer_ids}
    terms = dict(offer.terms)
    days = terms.pop("valid_days", None)
    minted = crm.coupons.mint_for(uow, customer_ids, terms, prefix=offer.prefix,
                                  valid_for=None if days is None else timedelta(days=days))
    return {cid: coupon_context(coupon) for cid, coupon in minted.items()}


@attrs.frozen
class _Batch:
    """What every message of a chunk shares: the campaign, its chunk, the time, an
    envelope per variant, and the unsubscribe-token signer (when the campaign has a
    link)."""

    campaign: Campaign
    chunk: Chunk
    now: datetime
    envelopes: Mapping[str, outbox.Envelope]
    sign: Callable[[str], str] | None

    @classmethod
    def of(cls, crm: CRM, campaign: Campaign, chunk: Chunk, now: datetime) -> _Batch:
        """The batch of ``chunk``. :raises ValidationError: a campaign field a message
        cannot carry (or no ``secret`` for a campaign with an unsubscribe link)."""
        envelopes = {variant.name: outbox.envelope(
            channel=campaign.channel, purpose=campaign.purpose, priority=campaign.priority,
            due_at=None, campaign_id=campaign.id, variant=variant.name, step=None, now=now)
            for variant in campaign.variants}
        sign = None if campaign.unsubscribe_url is None else crm.consent.signer(
            campaign.channel, campaign.purpose, TokenAction.UNSUBSCRIBE)
        return cls(campaign, chunk, now, envelopes, sign)


def _message(crm: CRM, uow: UnitOfWork, batch: _Batch, variant: CompiledVariant,
             customer: Customer, coupon: dict[str, Any] | None
             ) -> tuple[outbox.OutboxMessage | None, CampaignMember]:
    """The member's message and record; a template that fails for this customer (an
    attribute it lacks) skips them with the reason."""
    campaign, now = batch.campaign, batch.now
    context = _context(crm, uow, batch, variant, customer, coupon)
    code = None if coupon is None else coupon["code"]
    try:
        subject, body, html = variant.render(context)
        data = {k: v for k, v in (("html", html),
                                  ("unsubscribe_url", context.get("unsubscribe_url")))
                if v is not None}
        message = batch.envelopes[variant.name].message(
            message_id=new_id(), key=f"campaign:{campaign.id}:{customer.id}",
            customer_id=customer.id, recipient=address_of(customer, campaign.channel),
            subject=subject, body=body, data=data)
    except ValidationError as error:
        return None, CampaignMember(campaign.id, customer.id, variant.name,
                                    MemberStatus.SKIPPED, now, coupon_code=code,
                                    reason=f"{error.field}: {error.message}"[:200])
    return message, CampaignMember(campaign.id, customer.id, variant.name,
                                   MemberStatus.QUEUED, now, message_id=message.id,
                                   coupon_code=code)


def _context(crm: CRM, uow: UnitOfWork, batch: _Batch, variant: CompiledVariant,
             customer: Customer, coupon: dict[str, Any] | None) -> dict[str, Any]:
    """What the member's templates may use; the costly parts only when they do."""
    campaign, needs = batch.campaign, variant.needs
    context: dict[str, Any] = {}
    if "customer" in needs:
        context["customer"] = customer_context(customer, variant.customer_fields)
    if "campaign" in needs:
        context["campaign"] = {"id": campaign.id, "name": campaign.name,
                               "variant": variant.name}
    if coupon is not None:
        context["coupon"] = coupon
    if "points" in needs:
        context["points"] = points_context(loyalty_rules.balance(
            customer.id, uow.loyalty.lots(customer.id), batch.now,
            uow.loyalty.debt(customer.id)))
    if "tier" in needs:
        context["tier"] = {"name": crm.tiers.tier_of(uow, customer.id)}
    if "recommendations" in needs:
        context["recommendations"] = batch.chunk.recommendations.get(customer.id, [])
    if campaign.unsubscribe_url is not None:
        assert batch.sign is not None
        context["unsubscribe_url"] = campaign.unsubscribe_url.replace(
            "{token}", batch.sign(customer.id))
    return context


def address_of(customer: Customer, channel: str) -> str | None:
    """Where a message on ``channel`` goes: the e-mail address (``email``), the phone
    number (``sms``, ``phone``), else the customer attribute ``<channel>_id`` (a LINE
    user id in ``line_id``)."""
    if channel == "email":
        return customer.email
    if channel in ("sms", "phone"):
        return customer.phone
    value = customer.attributes.get(f"{channel}_id")
    return value if isinstance(value, str) and value.strip() else None


def _suppression_key(channel: str, address: str | None) -> str | None:
    try:
        return None if address is None else suppression_key(channel, address)
    except ValidationError:
        return None


def _needs(campaign: Campaign) -> set[str]:
    """The context roots any of the campaign's templates use."""
    return set().union(*(v.needs for v in _compiled(campaign)))


def _compiled(campaign: Campaign) -> tuple[CompiledVariant, ...]:
    return compile_variants(campaign.variants, has_coupon=campaign.coupon is not None,
                            has_unsubscribe=campaign.unsubscribe_url is not None)
