"""Privacy: what ecrm holds about a person, and erasing it (``crm.privacy``).

Shops in Japan answer to the APPI and those selling to Europe to the GDPR: a customer may
ask what the shop holds about them, and ask to be forgotten. This capability answers both
without breaking the books, and purges old records by retention rules (see
``docs/privacy.md``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ecrm import customer_export
from ecrm.backends.base import UnitOfWork
from ecrm.domain.privacy import Redaction
from ecrm.erasure import erase_customer
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Outbox messages one retention pass deletes per transaction.
PURGE_BATCH = 1000


@attrs.frozen
class PurgeReport:
    """What :meth:`PrivacyService.purge` deleted."""

    interactions: int
    messages: int


class PrivacyService:
    """The ``crm.privacy`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def export(self, customer_id: str) -> dict[str, Any]:
        """Everything ecrm holds about the customer as one JSON-ready document (plain
        dicts, lists, strings, numbers, booleans and None), read in one consistent unit
        of work; see ``docs/privacy.md`` for its sections. A merged-away id answers for
        the survivor. :raises NotFound: no such customer."""
        return customer_export.export(self._crm, customer_id)

    def erase(self, customer_id: str) -> Redaction:
        """Erase the customer's personal data everywhere ecrm keeps it, in one
        transaction, and return the erasure record.

        The profile's contact details, names, birth date, gender, address and attributes
        are blanked, as are the duplicates merged into the customer, the free text and
        payloads of interactions, cases, case messages, surveys, refunds and points
        transactions, and the recipient and content of outbox messages (those not yet
        sent are cancelled); consents, suppression-list entries of the person's
        addresses and active journey series end. Orders, amounts, the points ledger,
        tiers, coupons and segment memberships stay under the customer's id, so the books
        and analytics still add up. ``ecrm_customer_erased`` fires after the commit so
        that the host and plugins erase their own copies. Erasing again blanks what was
        recorded since and adds another record.

        An id that was merged away stands for its survivor (the same person).

        :raises NotFound: no such customer in this tenant.
        """
        return erase_customer(self._crm, customer_id)

    def redactions(self, customer_id: str) -> list[Redaction]:
        """The erasure records of this customer id, oldest first (empty when it was
        never erased)."""
        def work(uow: UnitOfWork) -> list[Redaction]:
            return uow.privacy.redactions(customer_id)

        return self._crm.transact(work, read_only=True)

    def is_erased(self, customer_id: str) -> bool:
        """True when this customer id has been erased."""
        return bool(self.redactions(customer_id))

    def purge(self, *, interactions_older_than: timedelta | None = None,
              messages_older_than: timedelta | None = None) -> PurgeReport:
        """Apply retention rules: delete the interactions that occurred, and the finished
        outbox messages (sent, dead or cancelled) that were created, longer ago than the
        given ages (by the CRM's clock). A rule left out deletes nothing. Runs in batches
        of ``PURGE_BATCH`` rows per transaction; run it from a daily job.

        :raises ValidationError: an age that is not a positive timedelta.
        """
        for field, age in (("interactions_older_than", interactions_older_than),
                           ("messages_older_than", messages_older_than)):
            if age is not None and (not isinstance(age, timedelta) or age <= timedelta(0)):
                raise ValidationError(field, "must be a positive timedelta")
        interactions = 0 if interactions_older_than is None else (
            self._crm.interactions.purge(older_than=interactions_older_than))
        messages = 0 if messages_older_than is None else self._purge_messages(
            messages_older_than)
        return PurgeReport(interactions=interactions, messages=messages)

    def _purge_messages(self, older_than: timedelta) -> int:
        cutoff = self._crm.clock.now() - older_than
        deleted = 0
        while True:
            done = self._crm.transact(
                lambda uow: uow.privacy.delete_messages(cutoff, PURGE_BATCH))
            deleted += done
            if done < PURGE_BATCH:
                return deleted
