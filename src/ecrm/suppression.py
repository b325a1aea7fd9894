"""The suppression list (``crm.suppressions``): addresses never to send to on a channel.

Whatever a customer's consent says, a suppressed address gets no message on that channel,
marketing or transactional: the address bounced for good, its owner reported spam, or
asked never to be contacted there. Entries are kept by channel and normalised address
(see :func:`ecrm.domain.suppression.address`), not by customer.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ecrm.backends.base import UnitOfWork
from ecrm.domain import consent as consent_rules
from ecrm.domain import suppression as rules
from ecrm.domain.suppression import Suppression, SuppressionReason

if TYPE_CHECKING:
    from ecrm.crm import CRM


class SuppressionService:
    """The ``crm.suppressions`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    def add(self, channel: str, address: str, *,
            reason: SuppressionReason | str = SuppressionReason.REQUEST,
            source: str | None = None, at: datetime | None = None) -> Suppression:
        """Suppress ``address`` on ``channel`` and return the entry. An address listed
        already keeps its first entry (returned unchanged), so the call is safe to repeat.

        :raises ValidationError: a malformed ``channel``, ``address``, ``reason``,
            ``source`` or ``at``.
        """
        name = consent_rules.channel(channel)
        entry = Suppression(name, rules.address(name, address), rules.reason(reason),
                            consent_rules.decided_at(at, self._crm.clock.now()),
                            consent_rules.source(source))

        def work(uow: UnitOfWork) -> Suppression:
            found = uow.suppressions.get(entry.channel, entry.address)
            if found is not None:
                return found
            uow.suppressions.add(entry)
            return entry

        return self._crm.transact(work, replay_on_duplicate=True)

    def remove(self, channel: str, address: str) -> bool:
        """Lift the suppression of ``address`` on ``channel``; True when it was listed."""
        name = consent_rules.channel(channel)
        key = rules.address(name, address)
        return self._crm.transact(lambda uow: uow.suppressions.delete(name, key))

    def get(self, channel: str, address: str) -> Suppression | None:
        """The entry of ``address`` on ``channel``, or None when it is not suppressed."""
        name = consent_rules.channel(channel)
        key = rules.address(name, address)
        return self._crm.transact(lambda uow: uow.suppressions.get(name, key),
                                  read_only=True)

    def is_suppressed(self, channel: str, address: str) -> bool:
        """True when ``address`` may not be sent to on ``channel``."""
        return self.get(channel, address) is not None

    def list(self, channel: str | None = None) -> list[Suppression]:
        """Every entry (on ``channel`` only, when given), by channel, then address."""
        name = None if channel is None else consent_rules.channel(channel)
        return self._crm.transact(lambda uow: uow.suppressions.list(name), read_only=True)
