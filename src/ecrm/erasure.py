"""Erasing a customer's personal data (``crm.privacy.erase``) in one unit of work.

What is blanked and what is kept, and why, is in ``docs/privacy.md``; the per-record rules
are in :mod:`ecrm.domain.privacy`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import privacy as rules
from ecrm.domain import suppression as suppression_rules
from ecrm.domain.customers import Customer, CustomerMerge
from ecrm.domain.ids import new_id
from ecrm.domain.privacy import Redaction
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The customer field that holds the address of each channel with one.
ADDRESS_FIELDS = {"email": "email", "sms": "phone", "phone": "phone"}


def erase_customer(crm: CRM, customer_id: str) -> Redaction:
    """Blank every personal field of the customer (an id merged away stands for its
    survivor, the same person) and of the duplicates merged into them, in one unit of
    work, and record it (an erasure record and a ``customer.erased`` audit entry).
    ``ecrm_customer_erased`` fires after the commit."""
    def work(uow: UnitOfWork) -> Redaction:
        customer = resolve_customer(uow, customer_id, for_update=True)
        now = crm.clock.now()
        merges = _merges_into(uow, customer.id)
        addresses = _addresses([customer, *(m.duplicate for m in merges)],
                               uow.privacy.recipients(customer.id))
        removed: Counter[str] = Counter(uow.privacy.erase_records(customer.id))
        uow.customers.replace(rules.erased_customer(customer, now))
        removed["customers"] = 1
        for merge in merges:
            uow.privacy.replace_merge(CustomerMerge(
                survivor_id=merge.survivor_id, duplicate_id=merge.duplicate_id,
                merged_at=merge.merged_at, duplicate=rules.erased_customer(merge.duplicate, now)))
        removed["customer_merges"] = len(merges)
        removed["consents"] = len(uow.consents.for_customer(customer.id))
        uow.consents.delete_for_customer(customer.id)
        removed["suppressions"] = sum(uow.suppressions.delete(channel, address)
                                      for channel, address in sorted(addresses))
        removed["journey_enrollments"] = crm.journeys.end_for(uow, customer.id, "erased")
        redaction = Redaction(id=new_id(), customer_id=customer.id, erased_at=now,
                              removed=dict(sorted(removed.items())))
        uow.privacy.add_redaction(redaction)
        audit.record(crm, uow, audit_rules.CUSTOMER_ERASED, "customer", customer.id,
                     customer_id=customer.id, details={"redaction_id": redaction.id})
        crm.notify_after_commit(uow, "ecrm_customer_erased", redaction=redaction)
        return redaction

    return crm.transact(work)


def _merges_into(uow: UnitOfWork, survivor_id: str) -> list[CustomerMerge]:
    """Every merge record of a duplicate folded into the customer, directly or through
    a chain of merges (an earlier survivor that was merged in later)."""
    found: list[CustomerMerge] = []
    waiting = [survivor_id]
    while waiting:
        for merge in uow.customers.merges_into(waiting.pop()):
            found.append(merge)
            waiting.append(merge.duplicate_id)
    return found


def _addresses(people: list[Customer], recipients: set[tuple[str, str]]
               ) -> set[tuple[str, str]]:
    """The (channel, address) pairs under which the suppression list may know the
    person: their e-mail and phone on every channel that uses them, and every address a
    message to them went to, normalised as the list keys them."""
    pairs = set(recipients)
    for person in people:
        for channel, field in ADDRESS_FIELDS.items():
            value = getattr(person, field)
            if value is not None:
                pairs.add((channel, value))
    return {key for channel, value in pairs if (key := _suppression_key(channel, value))}


def _suppression_key(channel: str, value: str) -> tuple[str, str] | None:
    """``(channel, value)`` as the suppression list keys it; None for a value the list
    could never hold (such as a blank recipient)."""
    try:
        return channel, suppression_rules.address(channel, value)
    except ValidationError:
        return None
