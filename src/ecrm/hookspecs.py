"""Plugin hook specifications. Every hook is called with keyword arguments and always
gets ``crm``, the :class:`ecrm.CRM` the event happened in.

Implement a hook with :data:`ecrm.hookimpl`::

    class Welcome:
        @ecrm.hookimpl
        def ecrm_customer_created(self, crm, customer):
            send_welcome_mail(customer.email)

There are three kinds of hooks:

* **validation** hooks run inside the unit of work, before anything is written; raise
  :class:`ecrm.ValidationError` to veto the write (nothing is written);
* **notification** hooks run only after the unit of work committed, never for work that
  rolled back; their return value is ignored and an exception they raise is logged on the
  ``ecrm.plugins`` logger without undoing the committed write;
* **contribution** hooks run when ecrm needs what plugins offer (e.g. earn rules) and
  return it; every implementation's result is used;
* **decision** hooks (``firstresult``) ask plugins a question; the first implementation
  that answers (returns something other than None) decides, the rest are not called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.domain.cases import Case, CaseMessage, SLABreach, StatusChange, Survey
    from ecrm.domain.consent import Consent
    from ecrm.domain.coupons import CouponRedemption
    from ecrm.domain.customers import Customer
    from ecrm.domain.earning import EarnRule
    from ecrm.domain.inbound import InboundItem
    from ecrm.domain.interactions import Channel, Interaction
    from ecrm.domain.loyalty import PointsTransaction
    from ecrm.domain.orders import Order, Refund
    from ecrm.domain.outbox import OutboxMessage
    from ecrm.domain.privacy import Redaction
    from ecrm.domain.recommendations import Suggestion
    from ecrm.domain.referrals import Referral
    from ecrm.domain.segment_fields import SegmentField
    from ecrm.domain.segments import Segment
    from ecrm.domain.tiers import TierChange
    from ecrm.messages import DeliveryChannel
    from ecrm.recommendations import RecommendationSource

PROJECT = "ecrm"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------
# Validation (vetoes): inside the transaction, before the write
# --------------------------------------------------------------------------------------


@hookspec
def ecrm_validate_customer(crm: CRM, customer: Customer, changes: dict[str, Any]) -> None:
    """Fires before a customer is created or updated.

    :param customer: the customer as it would be stored.
    :param changes: the fields being set (all given fields on create).
    :return: ignored. Raise :class:`ecrm.ValidationError` to refuse the write.
    """


@hookspec
def ecrm_validate_order(crm: CRM, order: Order) -> None:
    """Fires before a new order is stored (by ``record`` and for each row of
    ``import_many``; not for idempotent replays).

    :param order: the order as it would be stored.
    :return: ignored. Raise :class:`ecrm.ValidationError` to refuse the order; in a bulk
        import only that row is rejected.
    """


# --------------------------------------------------------------------------------------
# Contributions: what plugins add to ecrm's features
# --------------------------------------------------------------------------------------


@hookspec
def ecrm_earn_rules(crm: CRM) -> Iterable[EarnRule]:
    """Fires each time an order's points are worked out (recording it with a loyalty
    programme, or ``crm.loyalty.quote``), inside that unit of work.

    :return: earn rules to apply after the programme's own: objects with an
        ``evaluate(context)`` method returning :class:`ecrm.Bonus` and
        :class:`ecrm.Multiplier` effects (see :mod:`ecrm.domain.earning`).
    """


@hookspec
def ecrm_channels(crm: CRM) -> Iterable[Channel]:
    """Fires once, when the CRM first needs its channels (recording an interaction,
    ``crm.interactions.channels``).

    :return: :class:`ecrm.Channel` objects to add to the built-in channels (e-mail, phone,
        web, ...), e.g. ``Channel("line", "LINE", can_send=True, can_receive=True)``. A
        name may be contributed once: a second channel of the same name, or one that
        shadows a built-in channel, is refused with :class:`ecrm.ValidationError`.
    """


@hookspec
def ecrm_segment_fields(crm: CRM) -> Iterable[SegmentField]:
    """Fires once per CRM, the first time it needs its segment fields (parsing,
    evaluating or refreshing a segment rule, ``crm.segments.fields``).

    :param crm: the CRM gathering its fields.
    :returns: an iterable of :class:`ecrm.SegmentField`, each with both forms:
        ``sql(context)`` returns an SQLAlchemy column expression for the customer
        ``context.customer_id`` (correlate on it and on ``context.tenant_id``; values from
        ``context.args`` must be bound, never formatted into SQL), and
        ``python(context)`` returns the same value for ``context.customer`` on the memory
        backend. A name ecrm or another plugin already uses raises ``RuleError``.
    """


@hookspec
def ecrm_recommendation_sources(crm: CRM) -> Iterable[RecommendationSource]:
    """Fires once per CRM, the first time it makes recommendations
    (``crm.recommendations.for_customer`` or ``for_items``).

    :param crm: the CRM gathering its recommendation sources.
    :returns: an iterable of sources: objects with a ``name`` (an identifier no other
        source uses) and a ``suggest(crm, request)`` method that gets an
        :class:`ecrm.SuggestionRequest` (the customer, their activity, how many items are
        wanted) and returns an iterable of :class:`ecrm.Suggestion`, each with its own
        reasons (``ReasonKind.PLUGIN`` and a ``detail`` in words). Sources run after
        ecrm's own reads, outside their transaction.
    """


@hookspec
def ecrm_unavailable_skus(crm: CRM, skus: tuple[str, ...]) -> Iterable[str] | None:
    """Fires once per recommendation request, with every SKU about to be suggested, so
    that the host can say which it cannot sell now (out of stock, discontinued, not
    shown in this shop).

    :param crm: the CRM making the recommendations.
    :param skus: the candidate SKUs, in no particular order.
    :returns: the SKUs to leave out (None or nothing: all available); the answers of
        every implementation are joined.
    """


@hookspec
def ecrm_delivery_channels(crm: CRM) -> Iterable[DeliveryChannel]:
    """Fires once per CRM, the first time it dispatches outbox messages
    (``crm.messages.dispatch`` or ``crm.messages.channels``).

    :param crm: the CRM gathering its delivery channels.
    :returns: an iterable of delivery channels: objects with a ``name`` (the identifier
        messages name as their ``channel``; one channel per name) and a
        ``send(message)`` method that delivers an :class:`ecrm.OutboxMessage` and returns
        the provider's id for it (or None), or raises :class:`ecrm.DeliveryError`
        (``permanent=True`` when trying again cannot help). ``send`` runs outside any
        transaction; ``message.id`` is the idempotency key to give the provider.
    """


# --------------------------------------------------------------------------------------
# Decisions (firstresult): the first implementation that answers decides
# --------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def ecrm_receive(crm: CRM, channel: str, payload: bytes | Mapping[str, Any],
                 headers: Mapping[str, str]) -> list[InboundItem] | None:
    """Fires once per ``crm.inbound.receive`` call, before anything is written, to turn a
    channel's payload into messages and events. Implement it in a channel plugin.

    :param channel: the name of the channel the payload came from (a known channel that
        can receive).
    :param payload: the payload as received: ``bytes`` (a ``str`` was encoded as UTF-8),
        or a JSON mapping when the host passed one; at most ``MAX_INBOUND_BYTES``.
    :param headers: the request's headers, names lower-cased (empty when none were given).
    :return: None when the plugin does not handle ``channel`` (the next plugin is asked);
        else a list of :class:`ecrm.InboundMessage` and :class:`ecrm.InboundEvent`
        (possibly empty: nothing to store). Raise :class:`ecrm.ValidationError` for a
        payload the plugin cannot read or a signature that does not verify.
    """


@hookspec(firstresult=True)
def ecrm_rerank_recommendations(crm: CRM, customer_id: str | None,
                                suggestions: list[Suggestion]) -> list[Suggestion] | None:
    """Fires once per recommendation request, after the sources were combined and
    unavailable items left out, to put the suggestions in another order (a model of the
    host's own, margins, stock levels).

    :param crm: the CRM making the recommendations.
    :param customer_id: the customer they are for, or None for ``for_items``.
    :param suggestions: the :class:`ecrm.Suggestion` list, best first by ecrm's order.
    :returns: the list in the new order (it may drop items; items it adds must be
        :class:`ecrm.Suggestion` too), or None to keep ecrm's; the result is cut to the
        requested length afterwards.
    """


# --------------------------------------------------------------------------------------
# Notifications: after commit only
# --------------------------------------------------------------------------------------


@hookspec
def ecrm_customer_created(crm: CRM, customer: Customer) -> None:
    """Fires after a new customer is committed (``create`` and ``import_many``).

    :param customer: the stored customer.
    """


@hookspec
def ecrm_customer_updated(crm: CRM, customer: Customer, changes: dict[str, Any]) -> None:
    """Fires after a customer update that changed something is committed.

    :param customer: the customer as stored now.
    :param changes: field name to new value, for the fields whose value changed.
    """


@hookspec
def ecrm_customers_merged(crm: CRM, survivor: Customer, duplicate_id: str) -> None:
    """Fires after two customers were merged and committed.

    :param survivor: the surviving customer, as stored after absorbing the duplicate.
    :param duplicate_id: the id of the customer that no longer exists on its own.
    """


@hookspec
def ecrm_customer_erased(crm: CRM, redaction: Redaction) -> None:
    """Fires after a customer's personal data was erased and committed
    (``crm.privacy.erase``). Erase the host's and the plugin's own copies here: the
    shop's user account, mailing-list and analytics tools, the e-mail provider's logs.

    :param redaction: the erasure record: ``customer_id``, ``erased_at`` and how many
        records of each kind were blanked (no personal data).
    """


@hookspec
def ecrm_order_recorded(crm: CRM, order: Order) -> None:
    """Fires after a new order is committed (not for idempotent replays).

    :param order: the stored order.
    """


@hookspec
def ecrm_order_refunded(crm: CRM, order: Order, refund: Refund) -> None:
    """Fires after a refund is committed.

    :param order: the order after the refund (status and refunded amount updated).
    :param refund: the refund just stored.
    """


@hookspec
def ecrm_points_changed(crm: CRM, transaction: PointsTransaction) -> None:
    """Fires after a points transaction (earn, redeem, adjust, reverse, expire) commits.

    :param transaction: the stored transaction; ``transaction.points`` is the change of the
        customer's balance.
    """


@hookspec
def ecrm_order_cancelled(crm: CRM, order: Order) -> None:
    """Fires after an order's cancellation is committed.

    :param order: the cancelled order.
    """


@hookspec
def ecrm_tier_changed(crm: CRM, change: TierChange) -> None:
    """Fires after a customer's tier change is committed: an upgrade on qualifying, a
    downgrade at period end, a raise to a manual floor, or a merge.

    :param change: the recorded change (``from_tier``, ``to_tier``, ``reason``).
    """


@hookspec
def ecrm_coupon_redeemed(crm: CRM, redemption: CouponRedemption) -> None:
    """Fires after a coupon redemption commits (not for idempotent replays).

    :param redemption: the stored redemption: coupon code, order, customer (None for a
        guest), order total and discount.
    """


@hookspec
def ecrm_coupon_use_restored(crm: CRM, redemption: CouponRedemption) -> None:
    """Fires after a redemption's use was given back to its coupon and committed (once:
    restoring it again does not fire it).

    :param redemption: the redemption, with ``restored_at`` set.
    """


@hookspec
def ecrm_referral_rewarded(crm: CRM, referral: Referral) -> None:
    """Fires after a referral's reward is committed (with the referee's first order).

    :param referral: the referral, with ``rewarded_at`` and ``order_id`` set.
    """


@hookspec
def ecrm_interaction_recorded(crm: CRM, interaction: Interaction) -> None:
    """Fires after a new interaction is committed (``record`` and each new row of
    ``import_many``; not for replays).

    :param interaction: the interaction as stored.
    """


@hookspec
def ecrm_case_opened(crm: CRM, case: Case) -> None:
    """Fires after a new case is committed (not when ``open`` replays a delivered
    message). The customer's first message, if any, follows as
    ``ecrm_case_message_added``.

    :param case: the case as stored (status ``new``).
    """


@hookspec
def ecrm_case_message_added(crm: CRM, case: Case, message: CaseMessage) -> None:
    """Fires after a new message of a case's thread is committed (not for replays).
    Deliver an agent's ``reply`` to the customer from here, on ``message.channel``.

    :param case: the case as it was before the message changed it.
    :param message: the message as stored.
    """


@hookspec
def ecrm_case_status_changed(crm: CRM, case: Case, change: StatusChange) -> None:
    """Fires after a case's status change is committed, whether an agent moved it or a
    message did (a customer's message reopening a resolved case, say).

    :param case: the case after the change.
    :param change: the step of its history: ``old``, ``new``, ``at`` and ``actor``.
    """


@hookspec
def ecrm_sla_breached(crm: CRM, case: Case, breach: SLABreach) -> None:
    """Fires once per case and metric, after the breach is committed: when the SLA check
    job finds a target missed, or when a reply or resolution comes after its due time.

    :param case: the case that missed its target.
    :param breach: the metric (first response or resolution), its due time and when
        the miss was found.
    """


@hookspec
def ecrm_survey_requested(crm: CRM, case: Case, survey: Survey) -> None:
    """Fires after a resolution asked for a satisfaction survey: send it to the customer
    from here (its ``id`` is what :meth:`ecrm.cases.CaseService.answer_survey` takes).

    :param case: the resolved case.
    :param survey: the request (``kind`` CSAT or NPS).
    """


@hookspec
def ecrm_survey_answered(crm: CRM, case: Case, survey: Survey) -> None:
    """Fires after a survey answer is committed (not for a repeated answer).

    :param case: the case the survey is about.
    :param survey: the survey with its ``score``, ``comment`` and ``answered_at``.
    """


@hookspec
def ecrm_consent_changed(crm: CRM, consent: Consent, previous: Consent | None) -> None:
    """Fires after a change of a customer's marketing consent on a channel is committed:
    a grant or withdrawal that became the current state (not a retry, not a decision
    older than the stored one), or a merge that brought the duplicate's later decision
    to the survivor.

    :param consent: the state as stored now (``granted``, ``changed_at``, ``source``).
    :param previous: the state it replaced, or None when the customer had no record on
        the channel. Compare ``previous.granted`` to tell a flip from a renewed decision.
    """


@hookspec
def ecrm_segment_membership_changed(crm: CRM, segment: Segment, entered: tuple[str, ...],
                                    left: tuple[str, ...]) -> None:
    """Fires after customers entered or left a saved segment, once the change is
    committed: a ``crm.segments.refresh`` that changed the members, or ``add``/``remove``
    on a static segment (or creating one with members). Not for a refresh that changed
    nothing.

    :param crm: the CRM the change happened in.
    :param segment: the :class:`ecrm.Segment` as it stands after the change.
    :param entered: the sorted ids of the customers who entered.
    :param left: the sorted ids of the customers who left.
    """


@hookspec
def ecrm_message_sent(crm: CRM, message: OutboxMessage) -> None:
    """Fires after an outbox message's delivery is recorded and committed (once per
    message; not when a lost claim's result was dropped).

    :param crm: the CRM that dispatched the message.
    :param message: the :class:`ecrm.OutboxMessage` as stored now: status ``sent``,
        ``sent_at``, ``attempts`` and the channel's ``provider_id``.
    """


@hookspec
def ecrm_message_dead(crm: CRM, message: OutboxMessage) -> None:
    """Fires after an outbox message went to the dead letters and that was committed: a
    permanent delivery error, the last of its tries failed, or no delivery channel of its
    name is installed.

    :param crm: the CRM that dispatched the message.
    :param message: the :class:`ecrm.OutboxMessage` as stored now: status ``dead``, its
        ``attempts`` and ``last_error``. ``crm.messages.retry(message.id)`` revives it.
    """
