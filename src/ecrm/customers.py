"""Customers: create, look up, update, list, merge and bulk-import (``crm.customers``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.domain import audit as audit_rules
from ecrm.domain import customers as rules
from ecrm.domain import validation as check
from ecrm.domain.customers import Address, Customer, CustomerMerge
from ecrm.domain.ids import new_id
from ecrm.errors import ConflictError, NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM
    from ecrm.importing import ImportReport

MAX_PAGE = 1000
_UNSET: Any = object()
T = TypeVar("T")


@attrs.frozen
class CustomerPage:
    """One page of customers in id order. Pass ``next_after`` as ``after`` to get the
    next page; it is None on the last page."""

    items: list[Customer]
    next_after: str | None


class CustomerService:
    """The ``crm.customers`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def create(self, *, email: str | None = None, name: str | None = None,
               phone: str | None = None, external_id: str | None = None,
               birth_date: date | None = None, attributes: Mapping[str, Any] | None = None,
               kana_name: str | None = None, gender: str | None = None,
               address: Address | Mapping[str, Any] | None = None,
               acquisition_channel: str | None = None, account_id: str | None = None,
               signed_up_at: datetime | None = None) -> Customer:
        """Create a customer. E-mail and external id are unique within the tenant. With a
        loyalty programme that has a sign-up bonus, the bonus is earned in the same
        transaction.

        :raises ValidationError: a field is malformed (the error names it).
        :raises ConflictError: the e-mail or external id belongs to another customer.
        """
        fields = {k: v for k, v in locals().items() if k != "self"}
        customer = rules.new_customer(new_id(), self._crm.clock.now(), fields)

        def work(uow: UnitOfWork) -> Customer:
            self._check_references(uow, customer)
            self._check_unique(uow, customer)
            given = {k: getattr(customer, k) for k, v in fields.items() if v is not None}
            self._crm.validate("ecrm_validate_customer", customer=customer, changes=given)
            uow.customers.add(customer)
            audit.record(self._crm, uow, audit_rules.CUSTOMER_CREATED, "customer", customer.id,
                         customer_id=customer.id, details={"fields": sorted(given)})
            if self._crm.loyalty.earning is not None:
                self._crm.loyalty.earning.signup_bonus(uow, customer)
            self._crm.notify_after_commit(uow, "ecrm_customer_created", customer=customer)
            return customer

        return self._crm.transact(work)

    def get(self, customer_id: str) -> Customer:
        """The customer with this id. An id that was merged away answers with the survivor.

        :raises NotFound: no such customer in this tenant.
        """
        def work(uow: UnitOfWork) -> Customer:
            return resolve_customer(uow, customer_id)

        return self._crm.transact(work, read_only=True)

    def find(self, *, email: str | None = None, external_id: str | None = None
             ) -> Customer | None:
        """The customer with this e-mail (case-insensitive) or external id, or None.
        Give exactly one of the two."""
        if (email is None) == (external_id is None):
            raise ValidationError("email", "give exactly one of email or external_id")
        if email is not None:
            key, value = "email", check.text("email", email, 254)
            value = value.lower() if value else value
        else:
            key, value = "external_id", check.text("external_id", external_id, 128)
        if value is None:
            return None
        return self._crm.transact(lambda uow: uow.customers.find(key, value), read_only=True)

    def update(self, customer_id: str, **changes: Any) -> Customer:
        """Change some fields (any of ``create``'s arguments); None clears a field.

        Returns the stored customer. Writes nothing, and notifies nobody, when no value
        actually changes.

        :raises ConflictError: the customer was erased (``crm.privacy.erase``).
        """
        def work(uow: UnitOfWork) -> Customer:
            current = resolve_customer(uow, customer_id, for_update=True)
            changed = rules.change_customer(current, changes, self._crm.clock.now())
            diff = _differences(current, changed)
            if not diff:
                return current
            if uow.privacy.redactions(current.id):
                raise ConflictError(f"customer {current.id} was erased; create a new "
                                    "customer instead of filling the erased one in again")
            self._check_references(uow, changed)
            self._check_unique(uow, changed)
            self._crm.validate("ecrm_validate_customer", customer=changed, changes=diff)
            uow.customers.replace(changed)
            audit.record(self._crm, uow, audit_rules.CUSTOMER_UPDATED, "customer", changed.id,
                         customer_id=changed.id, details={"fields": sorted(diff)})
            self._crm.notify_after_commit(uow, "ecrm_customer_updated", customer=changed,
                                          changes=diff)
            return changed

        return self._crm.transact(work)

    def merge(self, survivor_id: str, duplicate_id: str) -> Customer:
        """Fold ``duplicate_id`` into ``survivor_id`` and return the survivor.

        Orders and everything else attached to the duplicate move to the survivor (of
        tiers the higher, of marketing consent per channel the later decision; segment
        memberships too, except in segments the survivor is in already; the duplicate's
        sign-up, birthday, second-purchase and win-back series end where the survivor has
        one); the survivor's
        values win and its blanks are filled from the duplicate; the merge is recorded
        (see :meth:`merges`) and the duplicate id keeps answering ``get`` with the
        survivor.
        """
        survivor_id = check.required_text("survivor_id", survivor_id, 64)
        duplicate_id = check.required_text("duplicate_id", duplicate_id, 64)
        if survivor_id == duplicate_id:
            raise ValidationError("duplicate_id", "cannot merge a customer into itself")

        def work(uow: UnitOfWork) -> Customer:
            # Lock in id order so two opposite merges cannot deadlock.
            first, second = sorted((survivor_id, duplicate_id))
            locked = {cid: self._get_exact(uow, cid, for_update=True) for cid in (first, second)}
            survivor, duplicate = locked[survivor_id], locked[duplicate_id]
            now = self._crm.clock.now()
            merged = rules.merge_into(survivor, duplicate, now)
            uow.customers.add_merge(CustomerMerge(survivor.id, duplicate.id, now, duplicate))
            self._crm.journeys.absorb(uow, survivor.id, duplicate.id)
            uow.reassign_customer(duplicate.id, survivor.id)
            uow.segments.absorb_member(duplicate.id, survivor.id)
            uow.campaigns.absorb_member(duplicate.id, survivor.id)
            self._crm.tiers.absorb(uow, survivor.id, duplicate.id)
            self._crm.consent.absorb(uow, survivor.id, duplicate.id)
            uow.customers.delete(duplicate.id)
            uow.customers.replace(merged)
            audit.record(self._crm, uow, audit_rules.CUSTOMER_MERGED, "customer", merged.id,
                         customer_id=merged.id, details={
                             "survivor_id": merged.id, "duplicate_id": duplicate.id,
                             "filled": audit_rules.changed_names(survivor, merged,
                                                                 rules.EDITABLE_FIELDS)})
            self._crm.notify_after_commit(uow, "ecrm_customers_merged", survivor=merged,
                                          duplicate_id=duplicate.id)
            return merged

        return self._crm.transact(work)

    def merges(self, survivor_id: str) -> list[CustomerMerge]:
        """The merges folded into ``survivor_id``, oldest first, each with a snapshot of
        the duplicate as it was."""
        return self._crm.transact(lambda uow: uow.customers.merges_into(survivor_id),
                                  read_only=True)

    def list(self, *, after: str | None = None, limit: int = 100,
             account_id: str | None = None) -> CustomerPage:
        """A page of customers ordered by id (keyset pagination: stable under inserts)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ValidationError("limit", f"must be an integer from 1 to {MAX_PAGE}")
        items = self._crm.transact(
            lambda uow: uow.customers.page(after=after, limit=limit, account_id=account_id),
            read_only=True)
        return CustomerPage(items, items[-1].id if len(items) == limit else None)

    def iterate(self, *, batch_size: int = 500, account_id: str | None = None
                ) -> Iterator[Customer]:
        """Every customer in id order, fetched ``batch_size`` at a time."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not (
                1 <= batch_size <= MAX_PAGE):
            raise ValidationError("batch_size", f"must be an integer from 1 to {MAX_PAGE}")
        after = None
        while True:
            page = self.list(after=after, limit=batch_size, account_id=account_id)
            yield from page.items
            if page.next_after is None:
                return
            after = page.next_after

    def import_many(self, rows: Iterable[Mapping[str, Any]], *, batch_size: int = 1000
                    ) -> ImportReport:
        """Insert many customers, streaming ``rows`` (mappings of ``create``'s arguments)
        in batches. Rows whose external id or e-mail already exists are skipped; bad rows
        are rejected with the reason. See :mod:`ecrm.importing`."""
        from ecrm.importing import import_customers

        return import_customers(self._crm, rows, batch_size=batch_size)

    # -- helpers ---------------------------------------------------------------------

    def _get_exact(self, uow: UnitOfWork, customer_id: str, *, for_update: bool) -> Customer:
        customer = uow.customers.get(customer_id, for_update=for_update)
        if customer is None:
            raise NotFound("customer", customer_id)
        return customer

    def _check_references(self, uow: UnitOfWork, customer: Customer) -> None:
        if customer.account_id is not None and uow.accounts.get(customer.account_id) is None:
            raise ValidationError("account_id", f"no account {customer.account_id!r}")

    def _check_unique(self, uow: UnitOfWork, customer: Customer) -> None:
        for key in ("email", "external_id"):
            value = getattr(customer, key)
            owner = None if value is None else uow.customers.find(key, value)
            if owner is not None and owner.id != customer.id:
                raise ConflictError(f"{key} already belongs to customer {owner.id}")


def resolve_customer(uow: UnitOfWork, customer_id: str, *, for_update: bool = False
                     ) -> Customer:
    """The customer with this id, following merge records from an id that was merged
    away. :raises NotFound: neither the customer nor a merge of it exists."""
    return _follow_merges(uow, customer_id,
                          lambda cid: uow.customers.get(cid, for_update=for_update))


def lock_customer(uow: UnitOfWork, customer_id: str) -> str:
    """Lock the customer with this id, following merge records from an id that was
    merged away, and return the locked customer's id: ``resolve_customer(...,
    for_update=True).id`` without reading and building the customer.

    :raises NotFound: neither the customer nor a merge of it exists.
    """
    return _follow_merges(uow, customer_id,
                          lambda cid: cid if uow.customers.lock(cid) else None)


def merges_folded_into(uow: UnitOfWork, survivor_id: str) -> list[CustomerMerge]:
    """Every merge record of a duplicate folded into the customer, directly or through
    a chain of merges (an earlier survivor that was merged in later), by merge time."""
    found: list[CustomerMerge] = []
    waiting, seen = [survivor_id], {survivor_id}
    while waiting:
        for merge in uow.customers.merges_into(waiting.pop()):
            if merge.duplicate_id not in seen:
                seen.add(merge.duplicate_id)
                waiting.append(merge.duplicate_id)
                found.append(merge)
    return sorted(found, key=lambda m: (m.merged_at, m.duplicate_id))


def _follow_merges(uow: UnitOfWork, customer_id: str, find: Callable[[str], T | None]) -> T:
    """What ``find`` returns for ``customer_id`` or, when it finds nothing, for the
    survivor it was merged into (along a chain of merges)."""
    seen: set[str] = set()
    current = customer_id
    while current not in seen:
        seen.add(current)
        found = find(current)
        if found is not None:
            return found
        survivor = uow.customers.merged_into(current)
        if survivor is None:
            break
        current = survivor
    raise NotFound("customer", customer_id)


def _differences(before: Customer, after: Customer) -> dict[str, Any]:
    return {name: getattr(after, name) for name in rules.EDITABLE_FIELDS
            if getattr(before, name) != getattr(after, name)}

