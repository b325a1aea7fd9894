"""The audit trail (``crm.audit``): who changed which customer, consent, points or case,
and when. Append-only, without personal data (see ``docs/audit.md``).

Services write entries with :func:`record` inside the unit of work of the change, so an
entry lands exactly when the change does: a failed or rolled-back change leaves none,
and a replay of an idempotent call (which writes nothing) writes none either. The actor
is whoever the host named with ``crm.acting_as(...)``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain import audit as rules
from ecrm.domain import validation as check
from ecrm.domain.audit import AuditEntry, AuditQuery
from ecrm.domain.ids import new_id
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM


@attrs.frozen
class AuditPage:
    """One page of audit entries, oldest first. Pass ``next_after`` as ``after`` to get
    the next page; it is None on the last page."""

    items: list[AuditEntry]
    next_after: str | None


def record(crm: CRM, uow: UnitOfWork, action: str, subject_kind: str, subject_id: str, *,
           customer_id: str | None = None, details: Mapping[str, Any] | None = None
           ) -> AuditEntry:
    """Append an audit entry inside ``uow`` (the unit of work of the change it records),
    stamped with the clock's now and ``crm.actor``.

    ``details`` must hold no personal data: field names, enum values, numbers and ids
    only (the log is never rewritten, so an erasure could not take them out again).

    :raises ValidationError: a malformed ``action`` (``"kind.what_happened"``),
        ``subject_kind``, ``subject_id``, ``customer_id`` or non-JSON ``details``.
    """
    entry = rules.new_entry(new_id(), crm.clock.now(), crm.actor, action, subject_kind,
                            subject_id, customer_id, details)
    uow.audit.add(entry)
    return entry


class AuditService:
    """The ``crm.audit`` capability: read the audit trail. There is no call that changes
    or removes an entry."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def entries(self, *, customer_id: str | None = None,
                subject: tuple[str, str] | None = None,
                action: str | Collection[str] | None = None, actor: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                after: str | None = None, limit: int = rules.DEFAULT_PAGE) -> AuditPage:
        """A page of entries, oldest first, that pass every filter given.

        :param customer_id: only entries about this customer id, exactly (see
            :meth:`for_customer` to follow merges).
        :param subject: only entries about this record, as ``(kind, id)``, e.g.
            ``("case", case.id)``.
        :param action: one action (``"customer.updated"``) or a collection of them.
        :param actor: only what this actor did.
        :param since: only entries at or after this time; ``until``: only before it.
        :param after: the ``next_after`` of the previous page.
        :param limit: at most this many entries (1 to 1000).
        :raises ValidationError: a malformed filter, naming it.
        """
        customers = None if customer_id is None else (
            check.required_text("customer_id", customer_id, rules.MAX_SUBJECT_ID),)
        return self._page(self._query(customers, subject, action, actor, since, until,
                                      after, limit), None)

    def for_customer(self, customer_id: str, *, action: str | Collection[str] | None = None,
                     since: datetime | None = None, until: datetime | None = None,
                     after: str | None = None, limit: int = rules.DEFAULT_PAGE
                     ) -> AuditPage:
        """Who changed this customer and when: the entries of the customer and of every
        customer merged into it (the log keeps the ids they had), oldest first. A
        merged-away id answers for its survivor; an erased customer's entries remain.
        The filters are those of :meth:`entries`."""
        wanted = check.required_text("customer_id", customer_id, rules.MAX_SUBJECT_ID)
        query = self._query(None, None, action, None, since, until, after, limit)
        return self._page(query, wanted)

    def iterate(self, *, batch_size: int = 500, **filters: Any) -> Iterator[AuditEntry]:
        """Every entry passing the filters of :meth:`entries`, oldest first, fetched
        ``batch_size`` at a time (an export to the shop's own archive)."""
        after = filters.pop("after", None)
        while True:
            page = self.entries(after=after, limit=batch_size, **filters)
            yield from page.items
            if page.next_after is None:
                return
            after = page.next_after

    # -- helpers -------------------------------------------------------------------------

    def _query(self, customers: tuple[str, ...] | None, subject: object, action: object,
               actor: str | None, since: datetime | None, until: datetime | None,
               after: str | None, limit: int) -> AuditQuery:
        kind = subject_id = None
        if subject is not None:
            if not isinstance(subject, tuple) or len(subject) != 2:
                raise ValidationError("subject", "expected a (kind, id) pair, e.g. "
                                                 "('case', case.id)")
            kind = rules.subject_kind(subject[0], "subject")
            subject_id = check.required_text("subject", subject[1], rules.MAX_SUBJECT_ID)
        return AuditQuery(
            customer_ids=customers, subject_kind=kind, subject_id=subject_id,
            actions=_actions(action), actor=None if actor is None else rules.actor(actor),
            since=check.aware("since", since, required=False),
            until=check.aware("until", until, required=False),
            after=rules.decode_cursor(after), limit=rules.page_size(limit))

    def _page(self, query: AuditQuery, family_of: str | None) -> AuditPage:
        def read(uow: UnitOfWork) -> list[AuditEntry]:
            found = query
            if family_of is not None:
                found = attrs.evolve(query, customer_ids=customer_family(uow, family_of))
            return uow.audit.entries(found)

        items = self._crm.transact(read, read_only=True)
        more = len(items) == query.limit
        return AuditPage(items, rules.encode_cursor(items[-1]) if more else None)


def _actions(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (rules.action(value),)
    return tuple(sorted({rules.action(v) for v in check.names("action", value)}))


def customer_family(uow: UnitOfWork, customer_id: str) -> tuple[str, ...]:
    """The customer this id ended up as (following merges; the id itself when it was
    never merged, or is gone) and every id merged into it, directly or not."""
    top, seen = customer_id, {customer_id}
    while (survivor := uow.customers.merged_into(top)) is not None and survivor not in seen:
        top = survivor
        seen.add(top)
    from ecrm.customers import merges_folded_into  # customers records its own entries here

    return tuple(sorted({top, *(m.duplicate_id for m in merges_folded_into(uow, top))}))
