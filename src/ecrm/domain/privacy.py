"""Erasure: what a customer's records keep when their personal data is removed.

Erasure pseudonymises in place. The customer's id (a random key that names nobody once
the profile is blank) stays, so orders, the points ledger, segments and analytics still
add up; every field that can hold personal data (contact details, address, free text,
JSON payloads, message bodies) is blanked. The functions here say what each kind of
record becomes; the backends apply the same rules to their rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from ecrm.domain.cases import Case, CaseMessage, StatusChange, Survey
from ecrm.domain.consent import ConsentChange
from ecrm.domain.customers import Customer
from ecrm.domain.interactions import Interaction
from ecrm.domain.loyalty import PointsTransaction
from ecrm.domain.orders import Refund
from ecrm.domain.outbox import MessageStatus, OutboxMessage

#: What a required text field (a case's subject) reads after erasure.
ERASED_TEXT = "[erased]"

#: Outbox states a message can still leave; erasure cancels them.
UNSENT = (MessageStatus.PENDING, MessageStatus.SENDING)


@attrs.frozen
class Redaction:
    """The record of one erasure: which customer, when, and how many records of each
    kind were blanked or deleted (``removed``: ``"interactions"`` -> 12, ...). It holds
    no personal data, so it can be kept as proof that the request was carried out."""

    id: str
    customer_id: str
    erased_at: datetime
    removed: Mapping[str, int]


def erased_customer(customer: Customer, now: datetime) -> Customer:
    """The profile with every personal field blank. Kept: the id, the sign-up and
    creation times, the acquisition channel and the B2B account (a company, not the
    person), which cohorts and channel analytics group by."""
    return Customer(id=customer.id, created_at=customer.created_at, updated_at=now,
                    signed_up_at=customer.signed_up_at,
                    acquisition_channel=customer.acquisition_channel,
                    account_id=customer.account_id)


def erased_interaction(interaction: Interaction) -> Interaction:
    """An interaction without its payload (message text, page URLs, search terms); its
    channel, kind, time, SKU and references stay for analytics."""
    return attrs.evolve(interaction, payload={})


def erased_case(case: Case) -> Case:
    """A case without its subject; type, status, priority, category, tags (identifiers
    such as ``vip``) and its times stay for the SLA and CSAT figures."""
    return attrs.evolve(case, subject=ERASED_TEXT)


def erased_case_message(message: CaseMessage) -> CaseMessage:
    """A case message without its body, author, payload or the channel's message id
    (an e-mail Message-ID names the sender's host)."""
    return attrs.evolve(message, body="", author=None, payload={}, external_id=None)


def erased_status_change(change: StatusChange) -> StatusChange:
    """A case's status change without its actor (the customer's name when they opened
    the case themselves; ecrm cannot tell it from a staff member's)."""
    return attrs.evolve(change, actor=None)


def erased_survey(survey: Survey) -> Survey:
    """A survey answer without its comment; the score stays for CSAT."""
    return attrs.evolve(survey, comment=None)


def erased_refund(refund: Refund) -> Refund:
    """A refund without its free-text reason; the amount stays for the books."""
    return attrs.evolve(refund, reason=None)


def erased_transaction(transaction: PointsTransaction) -> PointsTransaction:
    """A points transaction without its free-text reason; points and entries stay."""
    return attrs.evolve(transaction, reason=None)


def erased_consent_change(change: ConsentChange) -> ConsentChange:
    """A consent decision without its free-text source; when and what was decided stay
    as the record that consent was given or withdrawn."""
    return attrs.evolve(change, source=None)


def erased_message(message: OutboxMessage) -> OutboxMessage:
    """An outbox message without recipient, subject, body, data, error text or the
    provider's id; one not yet sent is cancelled (a dispatcher holding it finds its
    claim gone and cannot record it as sent)."""
    blank = attrs.evolve(message, recipient="", subject=None, body="", data={},
                         last_error=None, provider_id=None)
    if message.status not in UNSENT:
        return blank
    return attrs.evolve(blank, status=MessageStatus.CANCELLED, lease_until=None)
