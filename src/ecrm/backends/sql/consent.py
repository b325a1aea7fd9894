"""SQL repository of marketing consent."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import RowMapping, delete, insert, select, true

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.consent import Consent, ConsentChange

_states = tables.consents
_changes = tables.consent_changes


class SQLConsentRepository(_TenantScoped):
    """Consent states in ``ecrm_consents``, decisions in ``ecrm_consent_changes``."""

    def get(self, customer_id: str, channel: str) -> Consent | None:
        row = self._conn.execute(select(_states).where(
            self._mine(_states), _states.c.customer_id == customer_id,
            _states.c.channel == channel)).mappings().first()
        return None if row is None else _consent_from_row(row)

    def for_customer(self, customer_id: str) -> list[Consent]:
        query = select(_states).where(self._mine(_states), _states.c.customer_id == customer_id)
        found = [_consent_from_row(row) for row in self._conn.execute(query).mappings()]
        return sorted(found, key=lambda c: c.channel)  # in Python: collations differ

    def put(self, consent: Consent) -> None:
        self._upsert(_states, {"customer_id": consent.customer_id, "channel": consent.channel},
                     {"granted": consent.granted, "changed_at": consent.changed_at,
                      "source": consent.source})

    def delete_for_customer(self, customer_id: str) -> None:
        self._conn.execute(delete(_states).where(self._mine(_states),
                                                 _states.c.customer_id == customer_id))

    def add_change(self, change: ConsentChange) -> None:
        self._conn.execute(insert(_changes), {
            "tenant_id": self._tenant, "id": change.id, "customer_id": change.customer_id,
            "channel": change.channel, "granted": change.granted,
            "changed_at": change.changed_at, "recorded_at": change.recorded_at,
            "source": change.source})

    def history(self, customer_id: str, channel: str | None) -> list[ConsentChange]:
        query = select(_changes).where(self._mine(_changes),
                                       _changes.c.customer_id == customer_id)
        if channel is not None:
            query = query.where(_changes.c.channel == channel)
        query = query.order_by(_changes.c.changed_at, _changes.c.id)
        return [_change_from_row(row) for row in self._conn.execute(query).mappings()]

    def granted_ids(self, channel: str, customer_ids: Collection[str] | None) -> set[str]:
        query = select(_states.c.customer_id).where(
            self._mine(_states), _states.c.channel == channel, _states.c.granted == true())
        if customer_ids is None:
            return set(self._conn.execute(query).scalars())
        found: set[str] = set()
        for batch in chunks(set(customer_ids), IN_CHUNK):
            found.update(self._conn.execute(
                query.where(_states.c.customer_id.in_(batch))).scalars())
        return found


def _consent_from_row(row: RowMapping) -> Consent:
    return Consent(customer_id=row["customer_id"], channel=row["channel"],
                   granted=bool(row["granted"]), changed_at=row["changed_at"],
                   source=row["source"])


def _change_from_row(row: RowMapping) -> ConsentChange:
    return ConsentChange(id=row["id"], customer_id=row["customer_id"], channel=row["channel"],
                         granted=bool(row["granted"]), changed_at=row["changed_at"],
                         recorded_at=row["recorded_at"], source=row["source"])
