"""SQL repositories of consent and of the suppression list."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import RowMapping, delete, insert, select, true

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.consent import MARKETING, Consent, ConsentChange, OptInLevel
from ecrm.domain.suppression import Suppression, SuppressionReason

_states = tables.consents
_changes = tables.consent_changes
_suppressions = tables.suppressions


class SQLConsentRepository(_TenantScoped):
    """Consent states in ``ecrm_consents``, decisions in ``ecrm_consent_changes``."""

    def get(self, customer_id: str, channel: str, purpose: str) -> Consent | None:
        row = self._conn.execute(select(_states).where(
            self._mine(_states), _states.c.customer_id == customer_id,
            _states.c.channel == channel, _states.c.purpose == purpose)).mappings().first()
        return None if row is None else _consent_from_row(row)

    def for_customer(self, customer_id: str) -> list[Consent]:
        query = select(_states).where(self._mine(_states), _states.c.customer_id == customer_id)
        found = [_consent_from_row(row) for row in self._conn.execute(query).mappings()]
        # Sorted in Python: collations differ.
        return sorted(found, key=lambda c: (c.channel, c.purpose))

    def put(self, consent: Consent) -> None:
        self._upsert(_states, {"customer_id": consent.customer_id, "channel": consent.channel,
                               "purpose": consent.purpose},
                     {"granted": consent.granted, "changed_at": consent.changed_at,
                      "source": consent.source, "level": consent.level})

    def delete_for_customer(self, customer_id: str) -> None:
        self._conn.execute(delete(_states).where(self._mine(_states),
                                                 _states.c.customer_id == customer_id))

    def add_change(self, change: ConsentChange) -> None:
        self._conn.execute(insert(_changes), {
            "tenant_id": self._tenant, "id": change.id, "customer_id": change.customer_id,
            "channel": change.channel, "granted": change.granted,
            "changed_at": change.changed_at, "recorded_at": change.recorded_at,
            "source": change.source, "purpose": change.purpose, "level": change.level})

    def history(self, customer_id: str, channel: str | None) -> list[ConsentChange]:
        query = select(_changes).where(self._mine(_changes),
                                       _changes.c.customer_id == customer_id)
        if channel is not None:
            query = query.where(_changes.c.channel == channel)
        query = query.order_by(_changes.c.changed_at, _changes.c.id)
        return [_change_from_row(row) for row in self._conn.execute(query).mappings()]

    def granted_ids(self, channel: str, customer_ids: Collection[str] | None,
                    purpose: str = MARKETING) -> set[str]:
        query = select(_states.c.customer_id).where(
            self._mine(_states), _states.c.channel == channel, _states.c.purpose == purpose,
            _states.c.granted == true())
        if customer_ids is None:
            return set(self._conn.execute(query).scalars())
        found: set[str] = set()
        for batch in chunks(set(customer_ids), IN_CHUNK):
            found.update(self._conn.execute(
                query.where(self._among(_states.c.customer_id, batch))).scalars())
        return found


class SQLSuppressionRepository(_TenantScoped):
    """The suppression list in ``ecrm_suppressions``."""

    def get(self, channel: str, address: str) -> Suppression | None:
        row = self._conn.execute(select(_suppressions).where(
            self._mine(_suppressions), _suppressions.c.channel == channel,
            _suppressions.c.address == address)).mappings().first()
        return None if row is None else _suppression_from_row(row)

    def add(self, suppression: Suppression) -> None:
        self._conn.execute(insert(_suppressions), {
            "tenant_id": self._tenant, "channel": suppression.channel,
            "address": suppression.address, "reason": suppression.reason.value,
            "created_at": suppression.created_at, "source": suppression.source})

    def delete(self, channel: str, address: str) -> bool:
        result = self._conn.execute(delete(_suppressions).where(
            self._mine(_suppressions), _suppressions.c.channel == channel,
            _suppressions.c.address == address))
        return bool(result.rowcount)

    def list(self, channel: str | None) -> list[Suppression]:
        query = select(_suppressions).where(self._mine(_suppressions))
        if channel is not None:
            query = query.where(_suppressions.c.channel == channel)
        found = [_suppression_from_row(row) for row in self._conn.execute(query).mappings()]
        return sorted(found, key=lambda s: (s.channel, s.address))

    def suppressed(self, channel: str, addresses: Collection[str]) -> set[str]:
        query = select(_suppressions.c.address).where(
            self._mine(_suppressions), _suppressions.c.channel == channel)
        found: set[str] = set()
        for batch in chunks(set(addresses), IN_CHUNK):
            found.update(self._conn.execute(
                query.where(self._among(_suppressions.c.address, batch))).scalars())
        return found


def _suppression_from_row(row: RowMapping) -> Suppression:
    return Suppression(channel=row["channel"], address=row["address"],
                       reason=SuppressionReason(row["reason"]), created_at=row["created_at"],
                       source=row["source"])


def _consent_from_row(row: RowMapping) -> Consent:
    return Consent(customer_id=row["customer_id"], channel=row["channel"],
                   granted=bool(row["granted"]), changed_at=row["changed_at"],
                   source=row["source"], purpose=row["purpose"], level=_level(row))


def _change_from_row(row: RowMapping) -> ConsentChange:
    return ConsentChange(id=row["id"], customer_id=row["customer_id"], channel=row["channel"],
                         granted=bool(row["granted"]), changed_at=row["changed_at"],
                         recorded_at=row["recorded_at"], source=row["source"],
                         purpose=row["purpose"], level=_level(row))


def _level(row: RowMapping) -> OptInLevel | None:
    return None if row["level"] is None else OptInLevel(row["level"])
