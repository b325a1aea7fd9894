"""Interactions: every touchpoint with a customer on every channel (``crm.interactions``),
the shop's channels, retention by age, and the customer timeline."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import interactions as rules
from ecrm.domain import validation as check
from ecrm.domain.ids import new_id
from ecrm.domain.interactions import BUILT_IN_CHANNELS, Channel, Interaction
from ecrm.domain.timeline import DEFAULT_PAGE, TimelinePage
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.importing import (
    ImportReport,
    import_in_batches,
    no_customer,
    parse_datetime,
    resolve_references,
)
from ecrm.plugins import has_listeners
from ecrm.timeline import customer_timeline

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Rows one retention pass deletes per transaction.
PURGE_BATCH = 5000

_IMPORT_FIELDS = frozenset({"customer_id", "customer_external_id", "channel", "kind",
                            "occurred_at", "payload", "sku", "reference", "external_id"})


class InteractionService:
    """The ``crm.interactions`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
        self._channels: dict[str, Channel] | None = None

    @property
    def channels(self) -> Mapping[str, Channel]:
        """The shop's channels by name: the built-in ones and those plugins contribute
        (``ecrm_channels``), gathered once.

        :raises ValidationError: two channels of the same name.
        """
        if self._channels is None:
            self._channels = _gather_channels(self._crm)
        return self._channels

    def record(self, customer_id: str, *, channel: str, kind: str,
               occurred_at: datetime | None = None, payload: Mapping[str, Any] | None = None,
               sku: str | None = None, reference: str | None = None,
               external_id: str | None = None) -> Interaction:
        """Record a touchpoint (``occurred_at`` defaults to now).

        With ``external_id`` (the source's own event id) it is idempotent per channel: the
        same event again returns the stored interaction and writes nothing; other content
        under the same external id raises :class:`ecrm.ConflictError`.

        :raises ValidationError: an unknown channel or customer, a malformed kind, a naive
            time, or a payload that is not JSON or larger than 4 KiB.
        """
        candidate = self._build(customer_id, channel=channel, kind=kind,
                                occurred_at=occurred_at, payload=payload, sku=sku,
                                reference=reference, external_id=external_id)

        def work(uow: UnitOfWork) -> Interaction:
            interaction = attrs.evolve(candidate, customer_id=self._customer(uow, customer_id))
            if interaction.external_id is not None:
                stored = uow.interactions.by_external_id(interaction.channel,
                                                         interaction.external_id)
                if stored is not None:
                    return rules.replayed(stored, interaction, time_given=occurred_at is not None)
            uow.interactions.add(interaction)
            self._crm.notify_after_commit(uow, "ecrm_interaction_recorded",
                                          interaction=interaction)
            return interaction

        return self._crm.transact(work, replay_on_duplicate=True)

    def get(self, interaction_id: str) -> Interaction:
        """The interaction. :raises NotFound: no such interaction in this tenant."""
        found = self._crm.transact(lambda uow: uow.interactions.get(interaction_id),
                                   read_only=True)
        if found is None:
            raise NotFound("interaction", interaction_id)
        return found

    def import_many(self, rows: Iterable[Mapping[str, Any]], *, batch_size: int = 1000
                    ) -> ImportReport:
        """Record many interactions, streaming ``rows`` in batches (one transaction each).
        Each row is a mapping of :meth:`record`'s arguments; ``customer_external_id`` may
        stand for ``customer_id`` and ``occurred_at`` may be ISO 8601 text. Rows whose
        external id is already recorded are skipped (or rejected, with other content);
        bad rows are rejected with the field and reason."""
        return import_in_batches(self._crm, rows, batch_size, self._import_candidate,
                                 _row_key, self._store_batch)

    def purge(self, *, older_than: timedelta, channels: Collection[str] | None = None,
              kinds: Collection[str] | None = None) -> int:
        """Delete the interactions that occurred more than ``older_than`` ago (by the
        CRM's clock), only on ``channels`` and of ``kinds`` when given, in batches of
        ``PURGE_BATCH`` rows per transaction; how many were deleted. Running it again
        deletes nothing more until time passes."""
        if not isinstance(older_than, timedelta) or older_than <= timedelta(0):
            raise ValidationError("older_than", "must be a positive timedelta")
        cutoff = self._crm.clock.now() - older_than
        wanted_channels = None if channels is None else {
            rules.known_channel(c, self.channels) for c in check.names("channels", channels)}
        wanted_kinds = None if kinds is None else {
            check.identifier("kinds", k) for k in check.names("kinds", kinds)}
        deleted = 0
        while True:
            done = self._crm.transact(lambda uow: uow.interactions.delete_older(
                cutoff, channels=wanted_channels, kinds=wanted_kinds, limit=PURGE_BATCH))
            deleted += done
            if done < PURGE_BATCH:
                return deleted

    def timeline(self, customer_id: str, *, limit: int = DEFAULT_PAGE, after: str | None = None,
                 channels: Collection[str] | None = None, kinds: Collection[str] | None = None,
                 sources: Collection[str] | None = None) -> TimelinePage:
        """One page of the customer's timeline: orders, interactions, points
        transactions, cases and case messages in one stream, newest first (see
        :mod:`ecrm.timeline`)."""
        return customer_timeline(self._crm, customer_id, limit=limit, after=after,
                                 channels=channels, kinds=kinds, sources=sources)

    # -- helpers ---------------------------------------------------------------------

    def _build(self, customer_id: object, **fields: Any) -> Interaction:
        return rules.build_interaction(
            interaction_id=new_id(), customer_id=check.required_text(
                "customer_id", customer_id, 128), recorded_at=self._crm.clock.now(),
            channels=self.channels, **fields)

    def _customer(self, uow: UnitOfWork, customer_id: str) -> str:
        try:
            return resolve_customer(uow, customer_id).id
        except NotFound:
            raise ValidationError("customer_id", f"no customer {customer_id!r}") from None

    def _import_candidate(self, row: object) -> tuple[Interaction, str]:
        """The interaction a row describes, its ``customer_id`` still the raw reference,
        and which customer key (``"id"`` or ``"external_id"``) that reference is."""
        if not isinstance(row, Mapping):
            raise ValidationError("row", f"expected a mapping, got {type(row).__name__}")
        if not _IMPORT_FIELDS.issuperset(row):
            raise ValidationError(sorted(set(row) - _IMPORT_FIELDS)[0],
                                  "is not a field of an interaction")
        key = "external_id" if row.get("customer_external_id") is not None else "id"
        reference = row.get("customer_external_id") if key == "external_id" else row.get(
            "customer_id")
        fields = {name: row.get(name) for name in ("channel", "kind", "payload", "sku",
                                                   "reference", "external_id")}
        interaction = self._build(reference, occurred_at=parse_datetime(
            "occurred_at", row.get("occurred_at")), **fields)
        return interaction, key

    def _store_batch(self, uow: UnitOfWork,
                     candidates: list[tuple[int, tuple[Interaction, str]]]) -> ImportReport:
        report = ImportReport()
        customers = resolve_references(uow, [(key, i.customer_id)
                                             for _, (i, key) in candidates])
        earlier = self._stored_by_source(uow, [i for _, (i, _) in candidates])
        fresh: list[Interaction] = []
        for index, (interaction, key) in candidates:
            survivor = customers.get((key, interaction.customer_id))
            if survivor is None:
                report.reject(index, interaction.external_id,
                              no_customer(key, interaction.customer_id))
                continue
            interaction = attrs.evolve(interaction, customer_id=survivor)
            if interaction.external_id is not None:
                source = (interaction.channel, interaction.external_id)
                if source in earlier:
                    try:
                        rules.replayed(earlier[source], interaction, time_given=True)
                        report.skipped += 1
                    except ConflictError as error:
                        report.reject(index, interaction.external_id, error)
                    continue
                earlier[source] = interaction
            fresh.append(interaction)
        uow.interactions.add_many(fresh)
        report.inserted = len(fresh)
        if has_listeners(self._crm.plugin_manager, "ecrm_interaction_recorded"):
            for interaction in fresh:
                self._crm.notify_after_commit(uow, "ecrm_interaction_recorded",
                                              interaction=interaction)
        return report

    def _stored_by_source(self, uow: UnitOfWork, interactions: list[Interaction]
                          ) -> dict[tuple[str, str], Interaction]:
        """The stored interactions sharing a channel and external id with the batch."""
        wanted: dict[str, set[str]] = {}
        for interaction in interactions:
            if interaction.external_id is not None:
                wanted.setdefault(interaction.channel, set()).add(interaction.external_id)
        found: dict[tuple[str, str], Interaction] = {}
        for channel, external_ids in wanted.items():
            stored = uow.interactions.by_external_ids(channel, external_ids)
            found.update({(channel, e): interaction for e, interaction in stored.items()})
        return found


def _gather_channels(crm: CRM) -> dict[str, Channel]:
    channels = {channel.name: channel for channel in BUILT_IN_CHANNELS}
    for contributed in crm.plugin_manager.hook.ecrm_channels(crm=crm):
        for channel in contributed or ():
            if not isinstance(channel, Channel):
                raise ValidationError("channels", f"a plugin contributed {channel!r}, "
                                                  "which is not an ecrm.Channel")
            if channel.name in channels:
                raise ValidationError("channels", f"channel {channel.name!r} is defined "
                                                  "twice")
            channels[channel.name] = channel
    return channels


def _row_key(row: object) -> str | None:
    return row.get("external_id") if isinstance(row, Mapping) else None
