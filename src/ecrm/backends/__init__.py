"""Storage backends. ``SQLBackend`` is imported on first use so ``import ecrm`` stays light."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ecrm.backends.base import Backend, Capability, UnitOfWork
from ecrm.backends.memory import MemoryBackend

if TYPE_CHECKING:
    from ecrm.backends.sql import SQLBackend

__all__ = ["Backend", "Capability", "MemoryBackend", "SQLBackend", "UnitOfWork"]


def __getattr__(name: str) -> Any:
    if name == "SQLBackend":
        from ecrm.backends.sql import SQLBackend

        return SQLBackend
    raise AttributeError(f"module 'ecrm.backends' has no attribute {name!r}")
