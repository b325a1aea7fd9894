"""Splitting streams into batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Successive lists of at most ``size`` items, consuming ``items`` lazily."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def each_new(fetch: Callable[[], Iterable[T]]) -> Iterator[T]:
    """Every item of repeated ``fetch()`` calls that was not yielded before, until a call
    brings nothing new. For jobs that work through a backlog page by page: what a page's
    work leaves in place (a customer with nothing to change) is not fetched forever."""
    seen: set[T] = set()
    while True:
        fresh = [item for item in fetch() if item not in seen]
        if not fresh:
            return
        seen.update(fresh)
        yield from fresh
