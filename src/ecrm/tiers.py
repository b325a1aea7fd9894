"""Member tiers (``crm.tiers``): upgrade at once on qualifying, downgrade at period end.

A tier policy lives in the loyalty programme (``LoyaltyProgram(tiers=TierPolicy(...))``).
Upgrades happen inside the unit of work that made the customer qualify (recording an order,
earning a bonus); downgrades happen when :meth:`TierService.review_due` runs after a
period ended (plus the grace period). Every change is recorded and fires
``ecrm_tier_changed`` after commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.batching import each_new
from ecrm.customers import resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import tiers as rules
from ecrm.domain import validation as check
from ecrm.domain.ids import new_id
from ecrm.domain.tiers import ChangeReason, TierChange, TierPolicy, TierStatus
from ecrm.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The measure of an upgrade includes what happened at this very instant.
_INSTANT = timedelta(microseconds=1)


class TierService:
    """The ``crm.tiers`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    @property
    def policy(self) -> TierPolicy | None:
        """The programme's tier policy, or None."""
        program = self._crm.loyalty.program
        return None if program is None else program.tiers

    def status(self, customer_id: str) -> TierStatus:
        """The customer's tier (``tier`` None: no tier yet). :raises NotFound: no such
        customer."""
        def work(uow: UnitOfWork) -> TierStatus:
            customer = resolve_customer(uow, customer_id).id
            return uow.tiers.status(customer) or TierStatus(customer)

        return self._crm.transact(work, read_only=True)

    def tier_of(self, uow: UnitOfWork, customer_id: str) -> str | None:
        """The customer's tier inside a unit of work (for other services)."""
        status = uow.tiers.status(customer_id)
        return None if status is None else status.tier

    def history(self, customer_id: str) -> list[TierChange]:
        """The customer's tier changes, oldest first."""
        def work(uow: UnitOfWork) -> list[TierChange]:
            return uow.tiers.changes(resolve_customer(uow, customer_id).id)

        return self._crm.transact(work, read_only=True)

    def set_floor(self, customer_id: str, tier: str | None) -> TierStatus:
        """Keep the customer at ``tier`` or above until the floor is lifted (``None``).
        A floor above the current tier raises the customer to it at once.

        :raises ValidationError: no tier policy, unknown tier or customer.
        """
        policy = self._require_policy()
        policy.rank(tier)

        def work(uow: UnitOfWork) -> TierStatus:
            customer = resolve_customer(uow, customer_id, for_update=True).id
            before = uow.tiers.status(customer) or TierStatus(customer)
            status = attrs.evolve(before, floor=tier)
            now = self._crm.clock.now()
            if policy.rank(tier) > policy.rank(status.tier):
                status, _ = self._change(uow, status, tier, ChangeReason.FLOOR, now, None)
                status = attrs.evolve(status,
                                      valid_until=policy.current_period(now, self._zone)[1])
            uow.tiers.put_status(status)
            if status.floor != before.floor:
                audit.record(self._crm, uow, audit_rules.TIER_FLOOR_SET, "customer", customer,
                             customer_id=customer, details={
                                 "floor": {"from": before.floor, "to": status.floor},
                                 "tier": {"from": before.tier, "to": status.tier}})
            return status

        try:
            return self._crm.transact(work)
        except NotFound:
            raise ValidationError("customer_id", f"no customer {customer_id!r}") from None

    def review_due(self, *, batch_size: int = 200) -> list[TierChange]:
        """The period-end job: for every customer whose tier's period (plus grace) has
        ended, the period decides the next tier; lower means a downgrade (never below the
        floor). Running it again finds nothing more to do."""
        policy = self._require_policy()
        size = check.positive_int("batch_size", batch_size)
        now = self._crm.clock.now()
        before = now - policy.grace
        changes: list[TierChange] = []
        due = each_new(lambda: self._crm.transact(
            lambda uow: uow.tiers.due_for_review(before, size), read_only=True))
        for customer_id in due:
            changes.extend(self._crm.transact(
                lambda uow, c=customer_id: self._review(uow, policy, c, now)))
        return changes

    # -- inside other units of work ----------------------------------------------------

    def upgrade_if_qualified(self, uow: UnitOfWork, customer_id: str) -> None:
        """Raise the (locked) customer's tier if what they did so far this period
        qualifies them for a higher one."""
        policy = self.policy
        if policy is None:
            return
        now = self._crm.clock.now()
        start, end = policy.current_period(now, self._zone)
        value = self._measure(uow, policy, customer_id, start, now + _INSTANT)
        status = uow.tiers.status(customer_id) or TierStatus(customer_id)
        reached = policy.qualified(value)
        if policy.rank(reached) > policy.rank(status.tier):
            upgraded, _ = self._change(uow, status, reached, ChangeReason.QUALIFIED, now,
                                       value)
            uow.tiers.put_status(attrs.evolve(upgraded, valid_until=end))

    def absorb(self, uow: UnitOfWork, survivor_id: str, duplicate_id: str) -> None:
        """After a merge: the survivor keeps the higher tier and the higher floor of the
        two; the duplicate's status goes."""
        duplicate = uow.tiers.status(duplicate_id)
        if duplicate is None:
            return
        uow.tiers.delete_status(duplicate_id)
        survivor = uow.tiers.status(survivor_id) or TierStatus(survivor_id)
        policy = self.policy
        if policy is None:
            if survivor.tier is None:
                uow.tiers.put_status(attrs.evolve(duplicate, customer_id=survivor_id))
            return
        floor = policy.higher(survivor.floor, duplicate.floor)
        merged = attrs.evolve(survivor, floor=floor)
        if policy.rank(duplicate.tier) > policy.rank(survivor.tier):
            merged, _ = self._change(uow, merged, duplicate.tier, ChangeReason.MERGE,
                                     self._crm.clock.now(), None)
            merged = attrs.evolve(merged, since=duplicate.since,
                                  valid_until=duplicate.valid_until)
        uow.tiers.put_status(merged)

    # -- helpers ---------------------------------------------------------------------

    @property
    def _zone(self) -> tzinfo:
        program = self._crm.loyalty.program
        assert program is not None
        return program.timezone

    def _require_policy(self) -> TierPolicy:
        policy = self.policy
        if policy is None:
            raise ValidationError("tiers", "the loyalty programme has no tier policy; pass "
                                           "LoyaltyProgram(tiers=TierPolicy(...))")
        return policy

    def _review(self, uow: UnitOfWork, policy: TierPolicy, customer_id: str, now: datetime
                ) -> list[TierChange]:
        resolve_customer(uow, customer_id, for_update=True)
        status = uow.tiers.status(customer_id)
        changes: list[TierChange] = []
        while (status is not None and status.valid_until is not None
               and status.valid_until + policy.grace <= now):
            end = status.valid_until
            value = self._measure(uow, policy, customer_id, policy.period_start(end, self._zone),
                                  end)
            earned = policy.higher(policy.qualified(value), status.floor)
            if policy.rank(earned) < policy.rank(status.tier):
                status, change = self._change(uow, status, earned, ChangeReason.PERIOD_END,
                                              now, value)
                changes.append(change)
            status = attrs.evolve(status, valid_until=None if status.tier is None
                                  else policy.next_end(end, self._zone))
        if status is not None:
            uow.tiers.put_status(status)
        return changes

    def _measure(self, uow: UnitOfWork, policy: TierPolicy, customer_id: str,
                 start: datetime, end: datetime) -> Decimal:
        if policy.measure is rules.Measure.POINTS:
            return rules.measure(policy, start, end, uow.loyalty.transactions(customer_id), [])
        return rules.measure(policy, start, end, [], uow.orders.for_customer(customer_id))

    def _change(self, uow: UnitOfWork, status: TierStatus, tier: str | None,
                reason: ChangeReason, now: datetime, value: Decimal | None
                ) -> tuple[TierStatus, TierChange]:
        """Record the change; the status with the new tier held since ``now``."""
        change = TierChange(new_id(), status.customer_id, status.tier, tier, reason, now, value)
        uow.tiers.add_change(change)
        self._crm.notify_after_commit(uow, "ecrm_tier_changed", change=change)
        return attrs.evolve(status, tier=tier, since=now), change
