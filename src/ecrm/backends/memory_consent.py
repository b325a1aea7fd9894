"""The memory backend's marketing consent: states and their history in the tenant's
journaled tables."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ecrm.domain.consent import Consent, ConsentChange

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


def _key(customer_id: str, channel: str) -> str:
    return f"{channel} {customer_id}"  # channel names hold no spaces


class MemoryConsentRepository:
    """Consent states keyed by customer and channel; decisions by id."""

    def __init__(self, data: _TenantData) -> None:
        self._states = data.consents
        self._changes = data.consent_changes

    def get(self, customer_id: str, channel: str) -> Consent | None:
        return self._states.rows.get(_key(customer_id, channel))

    def for_customer(self, customer_id: str) -> list[Consent]:
        mine = [c for c in self._states.rows.values() if c.customer_id == customer_id]
        return sorted(mine, key=lambda c: c.channel)

    def put(self, consent: Consent) -> None:
        key = _key(consent.customer_id, consent.channel)
        if key in self._states.rows:
            self._states.update(key, consent)
        else:
            self._states.insert(key, consent)

    def delete_for_customer(self, customer_id: str) -> None:
        for consent in self.for_customer(customer_id):
            self._states.delete(_key(customer_id, consent.channel))

    def add_change(self, change: ConsentChange) -> None:
        self._changes.insert(change.id, change)

    def history(self, customer_id: str, channel: str | None) -> list[ConsentChange]:
        mine = [c for c in self._changes.rows.values() if c.customer_id == customer_id
                and (channel is None or c.channel == channel)]
        return sorted(mine, key=lambda c: (c.changed_at, c.id))

    def granted_ids(self, channel: str, customer_ids: Collection[str] | None) -> set[str]:
        if customer_ids is None:
            return {c.customer_id for c in self._states.rows.values()
                    if c.channel == channel and c.granted}
        return {cid for cid in set(customer_ids)
                if (found := self.get(cid, channel)) is not None and found.granted}
