"""Triggered journeys (``crm.journeys``): automated series of messages per occasion.

A journey names a trigger (a sign-up, a birthday, an abandoned cart, an order, ...),
its steps (a wait, then a message) and its exit conditions. The host calls
:meth:`JourneyService.run_due` from its scheduler: it enrolls every new occasion of
every enabled journey, once (the occasion is the enrollment's key, and enrolling locks
the journey row, so racing workers take turns), then advances the enrollments whose
step is due (see :mod:`ecrm.journey_steps`). Everything works in bounded chunks, one
unit of work each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain import automation as rules
from ecrm.domain import validation as check
from ecrm.domain.automation import (
    Enrollment,
    EnrollmentStatus,
    Journey,
    JourneyTrigger,
    Step,
)
from ecrm.domain.ids import new_id
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.journey_steps import advance_chunk, compile_step

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Occasions enrolled per unit of work.
CHUNK = 500


@attrs.frozen
class JourneyRunReport:
    """What one :meth:`JourneyService.run_due` did, over every journey: occasions
    enrolled, messages queued, steps skipped (no consent, no address, suppressed, a
    template that failed for the customer), enrollments exited and completed."""

    enrolled: int = 0
    queued: int = 0
    skipped: int = 0
    exited: int = 0
    completed: int = 0

    def __add__(self, other: JourneyRunReport) -> JourneyRunReport:
        return JourneyRunReport(*(a + b for a, b in zip(attrs.astuple(self),
                                                        attrs.astuple(other), strict=True)))


class JourneyService:
    """The ``crm.journeys`` capability."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    # -- writing -----------------------------------------------------------------------

    def create(self, name: str, *, trigger: JourneyTrigger, steps: Sequence[Step],
               exit_on: Sequence[str] = (), enabled: bool = True) -> Journey:
        """Create a journey. Only occasions from its creation on enrol (sign-ups,
        orders and carts after it; birthdays, single orders and lapsed customers as
        they fall due).

        :param trigger: what starts it, e.g. ``JourneyTrigger.signup()``.
        :param steps: the messages, each ``wait`` after the previous one.
        :param exit_on: ``("order_placed",)``: leave when the customer places an order
            after enrolling.
        :raises ValidationError: a bad field, named (``steps[i]`` for a step whose
            template does not parse or uses a name the context lacks).
        :raises ConflictError: a journey of that name exists.
        """
        now = self._crm.clock.now()
        journey = Journey(
            id=new_id(), name=rules.name(name), trigger=rules.trigger(trigger),
            steps=self._steps(steps), exit_on=rules.exit_on(exit_on),
            enabled=_flag("enabled", enabled), created_at=now, updated_at=now)

        def work(uow: UnitOfWork) -> Journey:
            if uow.journeys.by_name(journey.name) is not None:
                raise ConflictError(f"a journey named {journey.name!r} exists")
            uow.journeys.add(journey)
            return journey

        return self._crm.transact(work)

    def pause(self, journey_id: str) -> Journey:
        """Stop enrolling and sending; enrollments wait where they are."""
        return self._enable(journey_id, False)

    def resume(self, journey_id: str) -> Journey:
        """Enrol and send again; steps that fell due while paused go at the next run."""
        return self._enable(journey_id, True)

    def run_due(self, now: datetime | None = None) -> JourneyRunReport:
        """Enroll the new occasions of every enabled journey and send the steps that
        are due; call it from the host's scheduler, in as many processes as you like:
        each occasion enrolls once and each step's message is queued once."""
        moment = check.aware("now", now) if now is not None else self._crm.clock.now()
        assert moment is not None
        report = JourneyRunReport()
        for journey in self.list():
            if journey.enabled:
                report += JourneyRunReport(enrolled=self._enroll_all(journey.id, moment))
                report += self._advance_all(journey.id, moment)
        return report

    # -- reading -----------------------------------------------------------------------

    def get(self, journey_id: str) -> Journey:
        """The journey. :raises NotFound: no such journey."""
        return self._crm.transact(lambda uow: self._get(uow, journey_id), read_only=True)

    def find(self, name: str) -> Journey | None:
        """The journey with this name, or None."""
        return self._crm.transact(lambda uow: uow.journeys.by_name(name), read_only=True)

    def list(self) -> list[Journey]:
        """Every journey, oldest first."""
        return self._crm.transact(lambda uow: uow.journeys.all(), read_only=True)

    def enrollments(self, journey_id: str, *, status: EnrollmentStatus | str | None = None,
                    after: str | None = None, limit: int = 1000) -> list[Enrollment]:
        """A page of the journey's enrollments by occasion (``after`` the last one of
        the previous page), of ``status`` only when given."""
        wanted = None if status is None else check.choice(EnrollmentStatus, "status")(status)
        size = check.positive_int("limit", limit)

        def work(uow: UnitOfWork) -> list[Enrollment]:
            journey = self._get(uow, journey_id)
            return uow.journeys.enrollments(journey.id, status=wanted, after=after,
                                            limit=size)

        return self._crm.transact(work, read_only=True)

    def for_customer(self, customer_id: str) -> list[Enrollment]:
        """The customer's enrollments in every journey, by journey id then occasion
        (a merged-away customer's follow the survivor)."""
        return self._crm.transact(lambda uow: uow.journeys.enrollments_of(customer_id),
                                  read_only=True)

    # -- helpers -----------------------------------------------------------------------

    def absorb(self, uow: UnitOfWork, survivor_id: str, duplicate_id: str) -> None:
        """Inside a merge's unit of work, before the duplicate's rows move: end the
        duplicate's active series in journeys whose occasion is the customer (sign-up,
        birthday, second purchase, win-back) where the survivor is enrolled too, so the
        merged customer does not get a series twice. Series for orders, carts, points,
        tier changes and cases move to the survivor with the rest."""
        theirs = [e for e in uow.journeys.enrollments_of(duplicate_id)
                  if e.status == EnrollmentStatus.ACTIVE]
        ours = {e.journey_id for e in uow.journeys.enrollments_of(survivor_id)}
        now = self._crm.clock.now()
        for enrollment in theirs:
            if enrollment.journey_id in ours and self._get(
                    uow, enrollment.journey_id).trigger.kind in rules.PER_CUSTOMER_TRIGGERS:
                _exit(uow, enrollment, f"merged into {survivor_id}", now)

    def end_for(self, uow: UnitOfWork, customer_id: str, reason: str) -> int:
        """Inside the caller's unit of work: end every active series of the customer
        (status exited, with ``reason``), as an erasure does; how many were ended."""
        now = self._crm.clock.now()
        active = [e for e in uow.journeys.enrollments_of(customer_id)
                  if e.status == EnrollmentStatus.ACTIVE]
        for enrollment in active:
            _exit(uow, enrollment, reason, now)
        return len(active)

    def _steps(self, given: object) -> tuple[Step, ...]:
        steps = rules.steps(given)
        checked = []
        for index, step in enumerate(steps):
            try:
                compile_step(step)
                coupon = self._crm.campaigns.check_offer(step.coupon)
            except ValidationError as error:
                raise ValidationError(f"steps[{index}]",
                                      f"{error.field}: {error.message}") from None
            checked.append(attrs.evolve(step, coupon=coupon))
        return tuple(checked)

    def _enable(self, journey_id: str, enabled: bool) -> Journey:
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Journey:
            stored = uow.journeys.get(journey_id, for_update=True)
            if stored is None:
                raise NotFound("journey", journey_id)
            if stored.enabled == enabled:
                return stored
            changed = attrs.evolve(stored, enabled=enabled, updated_at=now)
            uow.journeys.replace(changed)
            return changed

        return self._crm.transact(work)

    def _enroll_all(self, journey_id: str, now: datetime) -> int:
        """Enroll the journey's new occasions, chunk by chunk; how many."""
        total = 0
        while True:
            # A lost race on an occasion (a host-owned transaction locks nothing for
            # us) is retried: the next read sees the winner's enrollments.
            count = self._crm.transact(lambda uow: self._enroll(uow, journey_id, now),
                                       replay_on_duplicate=True)
            total += count
            if count < CHUNK:
                return total

    def _enroll(self, uow: UnitOfWork, journey_id: str, now: datetime) -> int:
        journey = uow.journeys.get(journey_id, for_update=True)
        if journey is None or not journey.enabled:
            return 0
        zone = self._crm.messages.gate.policy.timezone
        found = uow.automation.occasions(journey, now, zone=zone, limit=CHUNK)
        first_due = now + journey.steps[0].wait
        uow.journeys.enroll([Enrollment(
            journey_id=journey.id, occasion=o.key, customer_id=o.customer_id, step=0,
            due_at=first_due, status=EnrollmentStatus.ACTIVE, enrolled_at=now,
            updated_at=now) for o in found])
        return len(found)

    def _advance_all(self, journey_id: str, now: datetime) -> JourneyRunReport:
        report = JourneyRunReport()
        while True:
            tally, done = self._crm.transact(
                lambda uow: advance_chunk(self._crm, uow, journey_id, now))
            report += JourneyRunReport(0, *attrs.astuple(tally))
            if done:
                return report

    def _get(self, uow: UnitOfWork, journey_id: str) -> Journey:
        found = uow.journeys.get(journey_id)
        if found is None:
            raise NotFound("journey", journey_id)
        return found


def _flag(field: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "expected True or False")
    return value


def _exit(uow: UnitOfWork, enrollment: Enrollment, reason: str, now: datetime) -> None:
    """End an active series for ``reason``."""
    uow.journeys.update_enrollment(attrs.evolve(
        enrollment, status=EnrollmentStatus.EXITED, due_at=None, reason=reason,
        updated_at=now))
