"""Following a host's transaction: notifications wait for its commit, and vanish with
any rollback that undoes the work they report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event


class HostTransactionNotifications:
    """Holds notification callbacks until the host commits its connection.

    A rollback drops them all; a rollback to a savepoint drops those queued since that
    savepoint began, because the work they describe is gone.
    """

    def __init__(self, connection: Connection) -> None:
        self._pending: list[Callable[[], None]] = []
        # Queue length at each open savepoint, innermost last. Savepoints nest strictly,
        # and SQLAlchemy names a savepoint only after its "savepoint" event fires.
        self._marks: list[int] = []
        for name, handler in self._handlers().items():
            event.listen(connection, name, handler)

    def add(self, callbacks: list[Callable[[], None]]) -> None:
        """Queue callbacks for the host's commit."""
        self._pending.extend(callbacks)

    def _handlers(self) -> dict[str, Callable[..., None]]:
        return {
            "commit": self._committed,
            "rollback": self._rolled_back,
            "savepoint": self._savepoint_began,
            "rollback_savepoint": self._savepoint_rolled_back,
            "release_savepoint": self._savepoint_released,
        }

    def _savepoint_began(self, conn: Connection, name: str | None) -> None:
        self._marks.append(len(self._pending))

    def _savepoint_rolled_back(self, conn: Connection, name: str, context: Any) -> None:
        if self._marks:
            del self._pending[self._marks.pop():]

    def _savepoint_released(self, conn: Connection, name: str, context: Any) -> None:
        if self._marks:
            self._marks.pop()

    def _committed(self, conn: Connection) -> None:
        pending, self._pending = self._pending, []
        self._marks.clear()
        for callback in pending:
            callback()

    def _rolled_back(self, conn: Connection) -> None:
        self._pending.clear()
        self._marks.clear()
