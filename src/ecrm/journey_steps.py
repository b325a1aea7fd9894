"""Advancing a journey's due enrollments, one chunk per unit of work.

Each chunk's unit of work locks the journey row first (workers take turns), reads the
enrollments due, and per enrollment: exits it when an exit condition holds, else queues
the step's message (consent, suppressions and templates checked like a campaign's) and
schedules the next step, or completes it. The message goes to the outbox in the same
unit of work that moves the enrollment on, under the key
``journey:<journey id>:<occasion>:<step index>``, so a retry never queues twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.campaign_queue import address_of, issue_coupons, reasons_not_to_send
from ecrm.domain import outbox
from ecrm.domain.automation import Enrollment, EnrollmentStatus, Journey, Step, next_due
from ecrm.domain.campaign_content import CompiledVariant, compile_variants, customer_context
from ecrm.domain.campaigns import Variant
from ecrm.domain.consent_tokens import TokenAction
from ecrm.domain.customers import Customer
from ecrm.domain.ids import new_id
from ecrm.errors import ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Enrollments per unit of work.
CHUNK = 500
#: The longest outbox key; longer occasions are hashed into it.
MAX_KEY = 128
#: What a step's templates may use.
CONTEXT = frozenset({"customer", "coupon", "campaign", "unsubscribe_url"})
#: The priority of journey messages (campaigns default to 5).
PRIORITY = 5


@attrs.frozen
class StepTally:
    """What one chunk did: messages queued, steps skipped, enrollments exited and
    completed."""

    queued: int = 0
    skipped: int = 0
    exited: int = 0
    completed: int = 0


def compile_step(step: Step) -> CompiledVariant:
    """The step's parsed templates; they may use ``customer``, ``coupon`` (when the
    step offers one), ``campaign`` (the journey's ``id`` and ``name``, the step index
    as ``variant``) and ``unsubscribe_url`` (when the step has one).
    :raises ValidationError: on ``variants[0]``."""
    variant = Variant("default", step.body, step.subject, step.html)
    compiled = compile_variants([variant], has_coupon=step.coupon is not None,
                                has_unsubscribe=step.unsubscribe_url is not None)[0]
    unsupported = sorted(compiled.needs - CONTEXT)
    if unsupported:
        raise ValidationError("variants[0]", f"uses {', '.join(unsupported)}, which journey "
                                             f"steps do not provide")
    return compiled


def outbox_key(journey_id: str, occasion: str, step: int) -> str:
    """The message's idempotency key (the occasion hashed when it would not fit)."""
    key = f"journey:{journey_id}:{occasion}:{step}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(occasion.encode()).hexdigest()[:40]
    return f"journey:{journey_id}:#{digest}:{step}"


def advance_chunk(crm: CRM, uow: UnitOfWork, journey_id: str, now: datetime
                  ) -> tuple[StepTally, bool]:
    """Inside ``uow``: advance up to :data:`CHUNK` due enrollments of the journey;
    returns the tally and True when no more are due."""
    journey = uow.journeys.get(journey_id, for_update=True)
    if journey is None or not journey.enabled:
        return StepTally(), True
    due = uow.journeys.due(journey.id, now, CHUNK)
    customers = uow.customers.get_many([e.customer_id for e in due])
    ordered = uow.automation.last_orders(list(customers)) if journey.exit_on else {}
    gone, exits, going = [], [], []
    for enrollment in due:
        if enrollment.customer_id not in customers:
            gone.append(enrollment)
        elif _ordered_since(ordered, enrollment):
            exits.append(enrollment)
        else:
            going.append(enrollment)
    for enrollment in gone:
        _finish(uow, enrollment, EnrollmentStatus.EXITED, "customer gone", now)
    for enrollment in exits:
        _finish(uow, enrollment, EnrollmentStatus.EXITED, "order_placed", now)
    queued, skipped, completed = _send_steps(crm, uow, journey, going, customers, now)
    return (StepTally(queued, skipped, len(gone) + len(exits), completed),
            len(due) < CHUNK)


def _ordered_since(ordered: dict[str, datetime], enrollment: Enrollment) -> bool:
    last = ordered.get(enrollment.customer_id)
    return last is not None and last > enrollment.enrolled_at


def _send_steps(crm: CRM, uow: UnitOfWork, journey: Journey, going: Sequence[Enrollment],
                customers: dict[str, Customer], now: datetime) -> tuple[int, int, int]:
    """Queue each enrollment's step (grouped by step), then move every one on."""
    queued = skipped = completed = 0
    messages: list[outbox.OutboxMessage] = []
    for index in sorted({e.step for e in going}):
        group = [e for e in going if e.step == index]
        step = journey.steps[index]
        members = [customers[e.customer_id] for e in group]
        reasons = reasons_not_to_send(uow, step.channel, step.purpose, members)
        sending = [c.id for c in members if c.id not in reasons]
        coupons = issue_coupons(crm, uow, step.coupon, sending)
        compiled = compile_step(step)
        sign = None if step.unsubscribe_url is None else crm.consent.signer(
            step.channel, step.purpose, TokenAction.UNSUBSCRIBE)
        for enrollment in group:
            customer = customers[enrollment.customer_id]
            reason = reasons.get(customer.id)
            if reason is None:
                message, reason = _message(journey, index, compiled, enrollment, customer,
                                           coupons.get(customer.id), now, sign)
                if message is not None:
                    messages.append(message)
            queued += reason is None
            skipped += reason is not None
            completed += _move_on(uow, journey, enrollment, reason, now)
    crm.messages.enqueue(uow, messages)
    return queued, skipped, completed


def _message(journey: Journey, index: int, compiled: CompiledVariant, enrollment: Enrollment,
             customer: Customer, coupon: dict[str, Any] | None, now: datetime,
             sign: Callable[[str], str] | None
             ) -> tuple[outbox.OutboxMessage | None, str | None]:
    """The step's message for the customer, or None and why (a template that fails for
    this customer). ``sign`` makes the customer's unsubscribe token when the step has a
    link."""
    step = journey.steps[index]
    context: dict[str, Any] = {
        "customer": customer_context(customer),
        "campaign": {"id": journey.id, "name": journey.name, "variant": str(index)}}
    if coupon is not None:
        context["coupon"] = coupon
    if step.unsubscribe_url is not None and sign is not None:
        context["unsubscribe_url"] = step.unsubscribe_url.replace("{token}", sign(customer.id))
    try:
        subject, body, html = compiled.render(context)
        data = {k: v for k, v in (("html", html),
                                  ("unsubscribe_url", context.get("unsubscribe_url")))
                if v is not None}
        message = outbox.new_message(
            message_id=new_id(), key=outbox_key(journey.id, enrollment.occasion, index),
            channel=step.channel, purpose=step.purpose, customer_id=customer.id,
            recipient=address_of(customer, step.channel), subject=subject, body=body,
            data=data, priority=PRIORITY, due_at=None,
            campaign_id=None, variant=None, step=str(index), now=now)
    except ValidationError as error:
        return None, f"{error.field}: {error.message}"[:200]
    return message, None


def _move_on(uow: UnitOfWork, journey: Journey, enrollment: Enrollment, reason: str | None,
             now: datetime) -> bool:
    """Schedule the next step, or complete; True when completed."""
    following = enrollment.step + 1
    due = next_due(journey, following, now)
    status = EnrollmentStatus.ACTIVE if due is not None else EnrollmentStatus.COMPLETED
    uow.journeys.update_enrollment(attrs.evolve(
        enrollment, step=following, due_at=due, status=status, reason=reason,
        updated_at=now))
    return due is None


def _finish(uow: UnitOfWork, enrollment: Enrollment, status: EnrollmentStatus, reason: str,
            now: datetime) -> None:
    uow.journeys.update_enrollment(attrs.evolve(enrollment, status=status, due_at=None,
                                                reason=reason, updated_at=now))
