"""The customer timeline (``crm.interactions.timeline``): orders, interactions, points
transactions, support cases and their messages in one stream, newest first.

Each source is read with the same keyset bound and ``limit + 1`` rows through its own
``(customer, time, id)`` index, and the slices are merged here; a page therefore costs
about the same for a customer with twenty events as for one with millions, and paging
through every page shows each event exactly once, even among events at the same instant.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import interactions as interaction_rules
from ecrm.domain import validation as check
from ecrm.domain.cases import Case, CaseMessage, MessageKind
from ecrm.domain.interactions import Interaction
from ecrm.domain.loyalty import PointsTransaction, TransactionKind
from ecrm.domain.orders import Order
from ecrm.domain.timeline import (
    Before,
    Position,
    Source,
    TimelineEvent,
    TimelinePage,
    bound_for,
    decode_cursor,
    merge_page,
    page_size,
)
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The kind of an order's event.
ORDER_PLACED = "order_placed"
#: Points transactions appear as ``points_`` + their kind (``points_earn``, ...).
POINTS_PREFIX = "points_"
#: The kind of a case's opening; its messages appear as ``case_`` + their kind.
CASE_OPENED = "case_opened"
CASE_PREFIX = "case_"

Reader = Callable[[UnitOfWork, str, Position | None, int], list[TimelineEvent]]


def customer_timeline(crm: CRM, customer_id: str, *, limit: int, after: str | None,
                      channels: Collection[str] | None, kinds: Collection[str] | None,
                      sources: Collection[str] | None) -> TimelinePage:
    """A page of the customer's timeline after cursor ``after`` (the first page when
    None). ``channels`` keeps events on those channels (points have none, so they drop
    out); ``kinds`` keeps those kinds; ``sources`` those sources.

    :raises NotFound: no such customer. :raises ValidationError: a bad filter, limit or
        cursor.
    """
    size = page_size(limit)
    position = decode_cursor(after)
    wanted_channels = _filter("channels", channels, lambda c: interaction_rules.known_channel(
        c, crm.interactions.channels))
    wanted_kinds = _filter("kinds", kinds, lambda k: check.identifier("kinds", k))
    readers = _readers(_sources(sources), wanted_channels, wanted_kinds)

    def work(uow: UnitOfWork) -> TimelinePage:
        customer = resolve_customer(uow, customer_id).id
        return merge_page((read(uow, customer, position, size + 1) for read in readers), size)

    return crm.transact(work, read_only=True)


def _readers(sources: set[Source], channels: set[str] | None, kinds: set[str] | None
             ) -> list[Reader]:
    """A reader per source that can have events passing the filters."""
    readers: list[Reader] = []
    if Source.INTERACTION in sources:
        readers.append(_reader(Source.INTERACTION, _interaction_event, lambda uow, c, b, n:
                               uow.interactions.timeline(c, before=b, limit=n,
                                                         channels=channels, kinds=kinds)))
    if Source.ORDER in sources and (kinds is None or ORDER_PLACED in kinds):
        readers.append(_reader(Source.ORDER, _order_event, lambda uow, c, b, n:
                               uow.orders.timeline(c, before=b, limit=n, channels=channels)))
    points_kinds = _points_kinds(kinds)
    if Source.POINTS in sources and channels is None and points_kinds != set():
        readers.append(_reader(Source.POINTS, _points_event, lambda uow, c, b, n:
                               uow.loyalty.timeline(c, before=b, limit=n, kinds=points_kinds)))
    if Source.CASE in sources:
        readers.extend(_case_readers(channels, kinds))
    return readers


def _case_readers(channels: set[str] | None, kinds: set[str] | None) -> list[Reader]:
    """Readers of the customer's cases and case messages (one source, two tables: the
    ids never collide, so the stream's order stays total)."""
    readers: list[Reader] = []
    if kinds is None or CASE_OPENED in kinds:
        readers.append(_reader(Source.CASE, _case_event, lambda uow, c, b, n:
                               uow.cases.case_timeline(c, before=b, limit=n,
                                                       channels=channels)))
    message_kinds = None if kinds is None else {
        kind.value for kind in MessageKind if CASE_PREFIX + kind.value in kinds}
    if message_kinds != set():
        readers.append(_reader(Source.CASE, _message_event, lambda uow, c, b, n:
                               uow.cases.message_timeline(c, before=b, limit=n,
                                                          channels=channels,
                                                          kinds=message_kinds)))
    return readers


def _reader(source: Source, event: Callable[[Any], TimelineEvent],
            fetch: Callable[[UnitOfWork, str, Before | None, int], list[Any]]) -> Reader:
    """Reads ``source``'s slice after a position: ``fetch(uow, customer, bound, limit)``
    returns its items newest first, ``event`` turns each into a timeline event."""
    def read(uow: UnitOfWork, customer: str, after: Position | None, limit: int
             ) -> list[TimelineEvent]:
        return [event(item) for item in fetch(uow, customer, bound_for(source, after), limit)]

    return read


def _interaction_event(interaction: Interaction) -> TimelineEvent:
    return TimelineEvent(interaction.occurred_at, Source.INTERACTION, interaction.id,
                         interaction.kind, interaction.channel, interaction)


def _order_event(order: Order) -> TimelineEvent:
    return TimelineEvent(order.placed_at, Source.ORDER, order.order_id, ORDER_PLACED,
                         order.channel, order)


def _points_event(transaction: PointsTransaction) -> TimelineEvent:
    return TimelineEvent(transaction.occurred_at, Source.POINTS, transaction.id,
                         POINTS_PREFIX + transaction.kind.value, None, transaction)


def _case_event(case: Case) -> TimelineEvent:
    return TimelineEvent(case.opened_at, Source.CASE, case.id, CASE_OPENED, case.channel,
                         case)


def _message_event(message: CaseMessage) -> TimelineEvent:
    return TimelineEvent(message.occurred_at, Source.CASE, message.id,
                         CASE_PREFIX + message.kind.value, message.channel, message)


def _points_kinds(kinds: set[str] | None) -> set[str] | None:
    """The transaction kinds wanted by a kinds filter (None: all)."""
    if kinds is None:
        return None
    return {kind.value for kind in TransactionKind if POINTS_PREFIX + kind.value in kinds}


def _sources(sources: Collection[str] | None) -> set[Source]:
    if sources is None:
        return set(Source)
    chosen = set()
    for name in check.names("sources", sources):
        try:
            chosen.add(Source(str(name)))
        except ValueError:
            allowed = ", ".join(repr(s.value) for s in Source)
            raise ValidationError("sources", f"{name!r} is not one of {allowed}") from None
    return chosen


def _filter(field: str, values: Collection[str] | None, check_one: Callable[[object], str]
            ) -> set[str] | None:
    return None if values is None else {check_one(v) for v in check.names(field, values)}
