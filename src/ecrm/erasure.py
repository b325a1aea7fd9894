"""Erasing a customer's personal data (``crm.privacy.erase``) in one unit of work.

What is blanked and what is kept, and why, is in ``docs/privacy.md``; the per-record rules
are in :mod:`ecrm.domain.privacy`.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import attrs

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.customers import merges_folded_into, resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import privacy as rules
from ecrm.domain import suppression as suppression_rules
from ecrm.domain.ids import new_id
from ecrm.domain.privacy import Redaction

if TYPE_CHECKING:
    from ecrm.crm import CRM

def erase_customer(crm: CRM, customer_id: str) -> Redaction:
    """Blank every personal field of the customer (an id merged away stands for its
    survivor, the same person) and of the duplicates merged into them, in one unit of
    work, and record it (an erasure record and a ``customer.erased`` audit entry).
    ``ecrm_customer_erased`` fires after the commit."""
    def work(uow: UnitOfWork) -> Redaction:
        customer = resolve_customer(uow, customer_id, for_update=True)
        now = crm.clock.now()
        merges = merges_folded_into(uow, customer.id)
        addresses = suppression_rules.keys_of([customer, *(m.duplicate for m in merges)],
                                              uow.privacy.recipients(customer.id))
        removed: Counter[str] = Counter(uow.privacy.erase_records(customer.id))
        uow.customers.replace(rules.erased_customer(customer, now))
        removed["customers"] = 1
        for merge in merges:
            uow.privacy.replace_merge(attrs.evolve(
                merge, duplicate=rules.erased_customer(merge.duplicate, now)))
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
