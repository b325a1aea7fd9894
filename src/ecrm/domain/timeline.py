"""The customer timeline: every source's events in one stream, newest first, paged by
keyset (an opaque cursor), so a page costs the same however long the history is."""

from __future__ import annotations

import enum
import heapq
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from ecrm.domain import cursors

#: Page sizes: the default, and the most one call returns.
DEFAULT_PAGE = 50
MAX_PAGE = 500

_CURSOR_VERSION = "t1"
_ONE_TICK = timedelta(microseconds=1)  # every backend stores microseconds

Event = TypeVar("Event")


class Source(enum.StrEnum):
    """Where a timeline event comes from. The names also break ties between events at
    the same instant (see :class:`TimelineEvent`)."""

    CASE = "case"
    INTERACTION = "interaction"
    ORDER = "order"
    POINTS = "points"


@attrs.frozen
class TimelineEvent:
    """One event of a customer's timeline. ``item`` is the source's own object (an
    :class:`~ecrm.domain.interactions.Interaction`, :class:`~ecrm.domain.orders.Order` or
    :class:`~ecrm.domain.loyalty.PointsTransaction`, :class:`~ecrm.domain.cases.Case` or
    :class:`~ecrm.domain.cases.CaseMessage`). ``kind`` is the interaction's kind,
    ``order_placed``, ``points_`` and the transaction's kind (``points_earn``, ...),
    ``case_opened``, or ``case_`` and a message's kind (``case_inbound``, ``case_reply``,
    ``case_note``); ``channel`` is None for events without one (points).

    Events are ordered newest first by ``(at, source, id)``, descending."""

    at: datetime
    source: Source
    id: str
    kind: str
    channel: str | None
    item: Any = attrs.field(eq=False, repr=False)

    @property
    def position(self) -> Position:
        """Where this event stands in the stream (for cursors)."""
        return Position(self.at, self.source, self.id)


@attrs.frozen(order=True)
class Position:
    """A point in the stream: an instant, then source and id to break ties."""

    at: datetime
    source: Source
    id: str


@attrs.frozen
class Before:
    """A keyset bound for one source: rows with ``(time, id) < (at, id)``."""

    at: datetime
    id: str


@attrs.frozen
class TimelinePage:
    """A page of events, newest first, and the cursor of the next (older) page, None at
    the end of the stream."""

    events: list[TimelineEvent]
    next_cursor: str | None


def bound_for(source: Source, after: Position | None) -> Before | None:
    """The rows of ``source`` that come after (are older than) ``after`` in the stream.

    At the cursor's own instant a source sorting below the cursor's still has every row
    to show, one above it none, and the cursor's own source the ids below the cursor's."""
    if after is None:
        return None
    if source == after.source:
        return Before(after.at, after.id)
    if source < after.source:
        return Before(after.at + _ONE_TICK, "")  # ties included: time <= at
    return Before(after.at, "")  # ties excluded: time < at


def newest_first(rows: Iterable[Event], key: Callable[[Event], tuple[datetime, str]],
                 before: Before | None, limit: int) -> list[Event]:
    """Up to ``limit`` of ``rows`` with ``key(row)`` (a time and an id) below ``before``,
    largest key first: one source's timeline slice, for stores without an index."""
    if before is not None:
        bound = (before.at, before.id)
        rows = (row for row in rows if key(row) < bound)
    return heapq.nlargest(limit, rows, key=key)


def merge_page(per_source: Iterable[Sequence[TimelineEvent]], limit: int) -> TimelinePage:
    """The newest ``limit`` events of the sources' slices (each newest first, fetched with
    ``limit + 1`` rows so that a longer stream shows)."""
    events = sorted((event for events in per_source for event in events),
                    key=lambda e: e.position, reverse=True)
    page = events[:limit]
    more = len(events) > limit
    return TimelinePage(page, encode_cursor(page[-1].position) if more and page else None)


def page_size(value: object) -> int:
    """A page size in 1..MAX_PAGE."""
    return cursors.page_size(value, MAX_PAGE)


def encode_cursor(position: Position) -> str:
    """An opaque, URL-safe cursor for ``position``."""
    return cursors.encode(_CURSOR_VERSION, position.at.isoformat(), position.source.value,
                          position.id)


def decode_cursor(cursor: object) -> Position | None:
    """The position a cursor stands for (None for None).

    :raises ValidationError: naming ``after``, when it is not a cursor of this timeline.
    """
    def position(parts: list[Any]) -> Position:
        at, source, event_id = parts
        if not isinstance(event_id, str):
            raise TypeError(event_id)
        return Position(cursors.aware_time(at), Source(source), event_id)

    return cursors.decode(cursor, _CURSOR_VERSION, position,
                          "is not a cursor of this timeline (pass the next_cursor of a "
                          "previous page)")
