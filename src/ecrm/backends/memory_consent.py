"""The memory backend's consent: states and their history, and the suppression list, in
the tenant's journaled tables."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ecrm.domain.consent import MARKETING, Consent, ConsentChange
from ecrm.domain.suppression import Suppression

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


def _key(customer_id: str, channel: str, purpose: str) -> str:
    return f"{channel} {purpose} {customer_id}"  # channels and purposes hold no spaces


class MemoryConsentRepository:
    """Consent states keyed by customer and channel; decisions by id."""

    def __init__(self, data: _TenantData) -> None:
        self._states = data.consents
        self._changes = data.consent_changes

    def get(self, customer_id: str, channel: str, purpose: str) -> Consent | None:
        return self._states.rows.get(_key(customer_id, channel, purpose))

    def for_customer(self, customer_id: str) -> list[Consent]:
        mine = [c for c in self._states.rows.values() if c.customer_id == customer_id]
        return sorted(mine, key=lambda c: (c.channel, c.purpose))

    def put(self, consent: Consent) -> None:
        key = _key(consent.customer_id, consent.channel, consent.purpose)
        if key in self._states.rows:
            self._states.update(key, consent)
        else:
            self._states.insert(key, consent)

    def delete_for_customer(self, customer_id: str) -> None:
        for consent in self.for_customer(customer_id):
            self._states.delete(_key(customer_id, consent.channel, consent.purpose))

    def add_change(self, change: ConsentChange) -> None:
        self._changes.insert(change.id, change)

    def history(self, customer_id: str, channel: str | None) -> list[ConsentChange]:
        mine = [c for c in self._changes.rows.values() if c.customer_id == customer_id
                and (channel is None or c.channel == channel)]
        return sorted(mine, key=lambda c: (c.changed_at, c.id))

    def granted_ids(self, channel: str, customer_ids: Collection[str] | None,
                    purpose: str = MARKETING) -> set[str]:
        if customer_ids is None:
            return {c.customer_id for c in self._states.rows.values()
                    if c.channel == channel and c.purpose == purpose and c.granted}
        return {cid for cid in set(customer_ids) if (found := self.get(
            cid, channel, purpose)) is not None and found.granted}


class MemorySuppressionRepository:
    """Suppressed addresses keyed by channel and address."""

    def __init__(self, data: _TenantData) -> None:
        self._rows = data.suppressions

    def get(self, channel: str, address: str) -> Suppression | None:
        return self._rows.rows.get(f"{channel} {address}")

    def add(self, suppression: Suppression) -> None:
        self._rows.insert(f"{suppression.channel} {suppression.address}", suppression)

    def delete(self, channel: str, address: str) -> bool:
        key = f"{channel} {address}"
        if key not in self._rows.rows:
            return False
        self._rows.delete(key)
        return True

    def list(self, channel: str | None) -> list[Suppression]:
        found = [s for s in self._rows.rows.values() if channel in (None, s.channel)]
        return sorted(found, key=lambda s: (s.channel, s.address))

    def suppressed(self, channel: str, addresses: Collection[str]) -> set[str]:
        return {a for a in set(addresses) if f"{channel} {a}" in self._rows.rows}
