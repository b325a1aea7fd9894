"""SQL repository of interactions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.sql import ColumnElement

from ecrm.backends.sql import tables
from ecrm.backends.sql.repositories import IN_CHUNK, _insert_many, _TenantScoped
from ecrm.batching import chunks
from ecrm.domain.interactions import Interaction
from ecrm.domain.timeline import Before

_t = tables.interactions
# MariaDB may walk the tenant's (tenant_id, occurred_at) index for a customer who owns many
# of its rows, reading every other customer's rows on the way; the timeline must stay on
# the customer's own index however the statistics look.
_TIMELINE_HINT = ("FORCE INDEX (ix_ecrm_interactions_tenant_id_customer_id_occurred_at_id)")


class SQLInteractionRepository(_TenantScoped):
    """Interactions in ``ecrm_interactions``."""

    def add(self, interaction: Interaction) -> None:
        self._conn.execute(_t.insert(), self._params(interaction))

    def add_many(self, interactions: Collection[Interaction]) -> None:
        _insert_many(self._conn, _t, [self._params(i) for i in interactions])

    def get(self, interaction_id: str) -> Interaction | None:
        found = self._where(_t.c.id == interaction_id)
        return found[0] if found else None

    def by_external_id(self, channel: str, external_id: str) -> Interaction | None:
        found = self._where(_t.c.channel == channel, _t.c.external_id == external_id)
        return found[0] if found else None

    def by_external_ids(self, channel: str, external_ids: Collection[str]
                        ) -> dict[str, Interaction]:
        found: dict[str, Interaction] = {}
        for batch in chunks(set(external_ids), IN_CHUNK):
            for interaction in self._where(_t.c.channel == channel,
                                           _t.c.external_id.in_(batch)):
                assert interaction.external_id is not None
                found[interaction.external_id] = interaction
        return found

    def timeline(self, customer_id: str, *, before: Before | None, limit: int,
                 channels: Collection[str] | None, kinds: Collection[str] | None
                 ) -> list[Interaction]:
        query = self._timeline_slice(_t, _t, time=_t.c.occurred_at, row_id=_t.c.id,
                                     customer_id=customer_id, before=before, limit=limit,
                                     only={_t.c.channel: channels, _t.c.kind: kinds},
                                     hint=_TIMELINE_HINT)
        return [_interaction_from_row(row) for row in self._conn.execute(query).mappings()]

    def delete_older(self, before: datetime, *, channels: Collection[str] | None,
                     kinds: Collection[str] | None, limit: int) -> int:
        conditions = [_t.c.occurred_at < before]
        if channels is not None:
            conditions.append(_t.c.channel.in_(sorted(channels)))
        if kinds is not None:
            conditions.append(_t.c.kind.in_(sorted(kinds)))
        # Ids first, then a DELETE by id: MySQL allows no LIMIT in a subquery of DELETE.
        ids = list(self._conn.execute(
            select(_t.c.id).where(self._mine(_t), *conditions).limit(limit)).scalars())
        for batch in chunks(ids, IN_CHUNK):
            self._conn.execute(delete(_t).where(self._mine(_t), _t.c.id.in_(batch)))
        return len(ids)

    def _where(self, *conditions: ColumnElement[bool]) -> list[Interaction]:
        query = select(_t).where(self._mine(_t), *conditions)
        return [_interaction_from_row(row) for row in self._conn.execute(query).mappings()]

    def _params(self, interaction: Interaction) -> dict[str, Any]:
        return {"tenant_id": self._tenant, "id": interaction.id,
                "customer_id": interaction.customer_id, "channel": interaction.channel,
                "kind": interaction.kind, "occurred_at": interaction.occurred_at,
                "recorded_at": interaction.recorded_at, "sku": interaction.sku,
                "reference": interaction.reference, "external_id": interaction.external_id,
                "payload": dict(interaction.payload) or None}


def _interaction_from_row(row: Mapping[str, Any]) -> Interaction:
    return Interaction(
        id=row["id"], customer_id=row["customer_id"], channel=row["channel"],
        kind=row["kind"], occurred_at=row["occurred_at"], recorded_at=row["recorded_at"],
        payload=row["payload"] or {}, sku=row["sku"], reference=row["reference"],
        external_id=row["external_id"])
