"""Support cases (``crm.cases``): complaints, inquiries and returns from every channel in
one queue, with their message thread, their life cycle, SLA clocks and satisfaction
surveys."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from ecrm import audit
from ecrm.backends.base import UnitOfWork
from ecrm.case_sla import case_sla, check_sla
from ecrm.case_support import (
    after_status_change,
    append_status_change,
    load_case,
    record_due_breaches,
    status_after_message,
)
from ecrm.case_surveys import answer_survey, cases_opened
from ecrm.customers import resolve_customer
from ecrm.domain import audit as audit_rules
from ecrm.domain import cases as rules
from ecrm.domain import validation as check
from ecrm.domain.case_figures import (
    CaseFigures,
    case_figures,
    repeat_complainers,
    top_categories,
)
from ecrm.domain.cases import (
    Case,
    CaseMessage,
    CaseStatus,
    CaseType,
    MessageKind,
    Priority,
    SLABreach,
    StatusChange,
    Survey,
)
from ecrm.domain.ids import new_id
from ecrm.domain.interactions import known_channel, replayed, small_payload
from ecrm.domain.sla import CaseSLA
from ecrm.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM


class CaseService:
    """The ``crm.cases`` capability. The shop's rules (SLA targets, business hours, the
    reopen window, surveys) come from the CRM's :class:`~ecrm.SupportPolicy`."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm

    # -- opening and reading ---------------------------------------------------------------

    def open(self, customer_id: str, *, subject: str, channel: str, body: str | None = None,
             type: str = CaseType.INQUIRY, priority: str = Priority.NORMAL,
             occurred_at: datetime | None = None, author: str | None = None,
             external_id: str | None = None, payload: Mapping[str, Any] | None = None,
             category: str | None = None, root_cause: str | None = None,
             tags: Collection[str] | None = None, assignee: str | None = None,
             team: str | None = None, order_ids: Collection[str] | None = None) -> Case:
        """Open a case for a customer, with the customer's first message when ``body``
        is given (``external_id``, ``author`` and ``payload`` belong to that message).

        With ``external_id`` it is idempotent per channel: the same message again returns
        the case it opened and writes nothing.

        :raises ValidationError: a bad field, an unknown customer, channel or order, or an
            order of another customer.
        :raises ConflictError: the external id already belongs to another message.
        """
        now = self._crm.clock.now()
        case = self._new_case(customer_id, subject=subject, channel=channel, type=type,
                              priority=priority, opened_at=occurred_at, now=now,
                              category=category, root_cause=root_cause, tags=tags,
                              assignee=assignee, team=team, order_ids=order_ids)
        message = None if body is None else self._message(
            case, kind=MessageKind.INBOUND, body=body, channel=case.channel,
            occurred_at=case.opened_at, author=author, external_id=external_id,
            payload=payload, now=now)
        if message is None and (external_id is not None or payload is not None):
            raise ValidationError("external_id" if external_id is not None else "payload",
                                  "belongs to the first message: give a body too")

        def work(uow: UnitOfWork) -> Case:
            opened = attrs.evolve(case, customer_id=self._customer(uow, case.customer_id))
            if message is not None and message.external_id is not None:
                stored = uow.cases.message_by_external_id(message.channel, message.external_id)
                if stored is not None:
                    return self._replayed_opening(uow, stored, message)
            self._check_orders(uow, opened.customer_id, opened.order_ids)
            uow.cases.add(opened)
            change = StatusChange(opened.id, 1, opened.opened_at, None, CaseStatus.NEW, author)
            uow.cases.add_status_change(change)
            audit.record(self._crm, uow, audit_rules.CASE_OPENED, "case", opened.id,
                         customer_id=opened.customer_id, details={
                             "type": opened.type.value, "priority": opened.priority.value,
                             "status": opened.status.value, "channel": opened.channel})
            self._crm.notify_after_commit(uow, "ecrm_case_opened", case=opened)
            if message is not None:
                first = attrs.evolve(message, customer_id=opened.customer_id)
                uow.cases.add_message(first)
                self._crm.notify_after_commit(uow, "ecrm_case_message_added", case=opened,
                                              message=first)
            return opened

        return self._crm.transact(work, replay_on_duplicate=True)

    def get(self, case_id: str) -> Case:
        """The case. :raises NotFound: no such case in this tenant."""
        return self._read(lambda uow: load_case(uow, case_id))

    def history(self, case_id: str) -> list[StatusChange]:
        """The case's status changes, oldest first (the opening is the first)."""
        return self._read(lambda uow: uow.cases.history(load_case(uow, case_id).id))

    def messages(self, case_id: str) -> list[CaseMessage]:
        """The case's thread, oldest first, on every channel."""
        return self._read(lambda uow: uow.cases.messages(load_case(uow, case_id).id))

    def for_customer(self, customer_id: str) -> list[Case]:
        """The customer's cases, oldest first (a merged-away id answers for the
        survivor). :raises NotFound: no such customer."""
        return self._read(lambda uow: uow.cases.for_customer(
            resolve_customer(uow, customer_id).id))

    def for_order(self, order_id: str) -> list[Case]:
        """The cases linked to an order, oldest first."""
        order = check.required_text("order_id", order_id, 64)
        return self._read(lambda uow: uow.cases.for_order(order))

    def thread_of(self, external_ids: Collection[str]) -> Case | None:
        """The case holding a message whose external id (on any channel) is among
        ``external_ids`` (the newest such case), or None: how a reply finds its thread,
        e.g. by an e-mail's In-Reply-To and References."""
        wanted = {check.required_text("external_ids", e, 128)
                  for e in check.names("external_ids", external_ids)}
        if not wanted:
            return None

        def work(uow: UnitOfWork) -> Case | None:
            case_ids = {m.case_id for m in uow.cases.messages_by_external_ids(wanted)}
            cases = [c for c in (uow.cases.get(i) for i in case_ids) if c is not None]
            return max(cases, key=lambda c: (c.opened_at, c.id), default=None)

        return self._read(work)

    # -- changing ------------------------------------------------------------------------

    def add_message(self, case_id: str, *, body: str, kind: str = MessageKind.INBOUND,
                    channel: str | None = None, occurred_at: datetime | None = None,
                    author: str | None = None, external_id: str | None = None,
                    payload: Mapping[str, Any] | None = None) -> CaseMessage:
        """Add a message to the case's thread (``channel`` defaults to the case's).

        ``inbound`` (the customer wrote) moves a pending case back to open, and reopens a
        resolved case within the policy's reopen window; after it, or on a closed case,
        the policy's ``closed_case_messages`` decides: ``"reopen"`` or a
        :class:`ConflictError`. ``reply`` (an agent answered) is the first response if
        none came before and moves a new case to open. ``note`` changes nothing.
        With ``external_id`` it is idempotent per channel.

        :raises ConflictError: a message for a closed case the policy keeps closed, a
            reply to a closed case, or an external id reused with other content.
        """
        message_kind = check.choice(MessageKind, "kind")(kind)
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> CaseMessage:
            case = load_case(uow, case_id, for_update=True)
            message = self._message(case, kind=message_kind, body=body,
                                    channel=channel or case.channel, occurred_at=occurred_at,
                                    author=author, external_id=external_id,
                                    payload=payload, now=now)
            if message.external_id is not None:
                stored = uow.cases.message_by_external_id(message.channel,
                                                          message.external_id)
                if stored is not None:
                    return replayed(stored, message, time_given=occurred_at is not None)
            self._apply_message(uow, case, message, now)
            return message

        return self._crm.transact(work, replay_on_duplicate=True)

    def change_status(self, case_id: str, status: str, *, at: datetime | None = None,
                      actor: str | None = None) -> Case:
        """Move the case to ``status`` (at ``at``, default now). Only legal moves are
        allowed (see :data:`ecrm.domain.cases.TRANSITIONS`); resolving requests a
        satisfaction survey when the policy asks for one.

        :raises ConflictError: the move is not allowed from the case's status.
        :raises ValidationError: a bad status, or ``at`` before the case's last change.
        """
        new = check.choice(CaseStatus, "status")(status)
        now = self._crm.clock.now()
        moment = check.aware("at", now if at is None else at)
        assert moment is not None
        who = check.text("actor", actor, 128)

        def work(uow: UnitOfWork) -> Case:
            case = load_case(uow, case_id, for_update=True)
            rules.check_transition(case, new)
            history = uow.cases.history(case.id)
            if moment < history[-1].at:
                raise ValidationError("at", f"is before the case's last status change "
                                            f"({history[-1].at.isoformat()})")
            moved = attrs.evolve(rules.moved(case, new, moment), updated_at=now)
            self._store_move(uow, case, moved, history, moment, who, now, via="change_status")
            return moved

        return self._crm.transact(work)

    def update(self, case_id: str, **changes: Any) -> Case:
        """Change the case's subject, type, priority, category, root cause, tags,
        assignee or team (None clears an optional one). Returns the stored case; writes
        nothing when no value changes."""
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Case:
            case = load_case(uow, case_id, for_update=True)
            changed = rules.changed_case(case, changes, now)
            if changed != case:
                uow.cases.replace(changed)
                self._audit_update(uow, case, changed)
                record_due_breaches(self._crm, uow, changed, uow.cases.history(case.id), now)
            return changed

        return self._crm.transact(work)

    def link_order(self, case_id: str, order_id: str) -> Case:
        """Link an order of the case's customer to the case (again: nothing changes).

        :raises ValidationError: no such order, or an order of another customer.
        """
        order = check.required_text("order_id", order_id, 64)
        now = self._crm.clock.now()

        def work(uow: UnitOfWork) -> Case:
            case = load_case(uow, case_id, for_update=True)
            if order in case.order_ids:
                return case
            self._check_orders(uow, case.customer_id, (order,))
            linked = attrs.evolve(case, order_ids=(*case.order_ids, order), updated_at=now)
            uow.cases.replace(linked)
            audit.record(self._crm, uow, audit_rules.CASE_ORDER_LINKED, "case", case.id,
                         customer_id=case.customer_id, details={"order_id": order})
            return linked

        return self._crm.transact(work)


    # -- SLA, surveys and figures ------------------------------------------------------

    def sla(self, case_id: str) -> CaseSLA:
        """The case's SLA clocks now: target, elapsed and remaining business time, and
        the due time, for first response and resolution (see :mod:`ecrm.domain.sla`)."""
        return case_sla(self._crm, case_id)

    def check_sla(self) -> list[SLABreach]:
        """Record every missed target of the active cases, once; the breaches this run
        recorded (each also fires ``ecrm_sla_breached``). Run it from a scheduler, as
        often as you like and on as many workers as you like."""
        return check_sla(self._crm)

    def breaches(self, case_id: str) -> list[SLABreach]:
        """The SLA breaches recorded for the case."""
        return self._read(lambda uow: uow.cases.breaches([load_case(uow, case_id).id]))

    def surveys(self, case_id: str) -> list[Survey]:
        """The satisfaction surveys requested for the case, oldest first."""
        return self._read(lambda uow: uow.cases.surveys([load_case(uow, case_id).id]))

    def answer_survey(self, survey_id: str, score: int, *, comment: str | None = None
                      ) -> Survey:
        """Record the customer's answer: 1 to 5 for CSAT, 0 to 10 for NPS. Answering
        again with the same score and comment is a replay; another answer raises
        :class:`ConflictError`. The answer also lands on the customer's timeline as a
        ``survey_answer`` interaction.

        :raises NotFound: no such survey. :raises ValidationError: a score out of range.
        """
        return answer_survey(self._crm, survey_id, score, comment)

    def figures(self, *, since: datetime, until: datetime, by: str | None = None
                ) -> list[CaseFigures]:
        """Support figures for the cases opened in ``[since, until)``, for all of them
        (``by=None``) or per ``"team"``, ``"category"``, ``"channel"``, ``"type"``,
        ``"priority"`` or ``"assignee"``: first response and resolution times in
        business hours, breach rate, CSAT, NPS and reopen rate."""
        period = cases_opened(self._crm, since, until)
        return case_figures(period.cases, period.histories, period.breaches,
                            period.surveys, self._crm.support, self._crm.clock.now(), by=by)

    def top_categories(self, *, since: datetime, until: datetime,
                       type: str = CaseType.COMPLAINT, limit: int = 10
                       ) -> list[tuple[str, int]]:
        """The most frequent categories of cases of ``type`` opened in the period, most
        first, with their counts."""
        kind = check.choice(CaseType, "type")(type)
        cases = cases_opened(self._crm, since, until).cases
        return top_categories(cases, type=kind, limit=check.positive_int("limit", limit))

    def repeat_complainers(self, *, since: datetime, until: datetime, at_least: int = 2
                           ) -> list[tuple[str, int]]:
        """Customers with at least ``at_least`` complaints opened in the period, most
        first, with their counts."""
        cases = cases_opened(self._crm, since, until).cases
        return repeat_complainers(cases, at_least=check.positive_int("at_least", at_least))

    # -- helpers ---------------------------------------------------------------------------

    def _read(self, work: Any) -> Any:
        return self._crm.transact(work, read_only=True)

    def _new_case(self, customer_id: object, *, subject: object, channel: object,
                  type: object, priority: object, opened_at: object, now: datetime,
                  order_ids: Collection[object] | None, **labels: object) -> Case:
        opened = check.aware("occurred_at", now if opened_at is None else opened_at)
        assert opened is not None
        return Case(
            id=new_id(), customer_id=check.required_text("customer_id", customer_id, 128),
            type=check.choice(CaseType, "type")(type),
            subject=rules.subject(subject),
            priority=check.choice(Priority, "priority")(priority), status=CaseStatus.NEW,
            channel=known_channel(channel, self._crm.interactions.channels),
            opened_at=opened, updated_at=now,
            category=rules.label("category", labels["category"]),
            root_cause=rules.label("root_cause", labels["root_cause"]),
            tags=rules.tags(labels["tags"]), assignee=rules.label("assignee", labels["assignee"]),
            team=rules.label("team", labels["team"]), order_ids=rules.order_ids(order_ids))

    def _message(self, case: Case, *, kind: MessageKind, body: object, channel: object,
                 occurred_at: object, author: object, external_id: object, payload: object,
                 now: datetime) -> CaseMessage:
        moment = check.aware("occurred_at", now if occurred_at is None else occurred_at)
        assert moment is not None
        return CaseMessage(
            id=new_id(), case_id=case.id, customer_id=case.customer_id, kind=kind,
            channel=known_channel(channel, self._crm.interactions.channels),
            body=rules.body(body), occurred_at=moment, recorded_at=now,
            author=check.text("author", author, 128),
            external_id=check.text("external_id", external_id, 128),
            payload=small_payload(payload))

    def _customer(self, uow: UnitOfWork, customer_id: str) -> str:
        try:
            return resolve_customer(uow, customer_id).id
        except NotFound:
            raise ValidationError("customer_id", f"no customer {customer_id!r}") from None

    def _check_orders(self, uow: UnitOfWork, customer_id: str, order_ids: Collection[str]
                      ) -> None:
        found = uow.orders.get_many(order_ids)
        for order_id in order_ids:
            order = found.get(order_id)
            if order is None:
                raise ValidationError("order_ids", f"no order {order_id!r}")
            if order.customer_id != customer_id:
                raise ValidationError("order_ids", f"order {order_id!r} belongs to another "
                                                   "customer")

    def _replayed_opening(self, uow: UnitOfWork, stored: CaseMessage,
                          candidate: CaseMessage) -> Case:
        """The case a repeated first message opened, if it is the same message."""
        replayed(stored, attrs.evolve(candidate, case_id=stored.case_id,
                                      customer_id=stored.customer_id), time_given=True)
        return load_case(uow, stored.case_id)

    def _apply_message(self, uow: UnitOfWork, case: Case, message: CaseMessage,
                       now: datetime) -> None:
        """Store a new message and what it does to the case."""
        history = uow.cases.history(case.id)
        new_status = status_after_message(self._crm.support, case, message)
        changed = attrs.evolve(case, updated_at=now)
        at = max(message.occurred_at, history[-1].at)
        if message.kind is MessageKind.REPLY and case.first_response_at is None:
            changed = attrs.evolve(changed, first_response_at=message.occurred_at)
        uow.cases.add_message(message)
        self._crm.notify_after_commit(uow, "ecrm_case_message_added", case=case,
                                      message=message)
        if new_status is not None:
            moved = attrs.evolve(rules.moved(changed, new_status, at), updated_at=now)
            self._store_move(uow, case, moved, history, at, _actor(message), now,
                             via="message")
        else:
            uow.cases.replace(changed)
            record_due_breaches(self._crm, uow, changed, history, now)

    def _store_move(self, uow: UnitOfWork, case: Case, moved: Case,
                    history: list[StatusChange], at: datetime, actor: str | None,
                    now: datetime, *, via: str) -> None:
        """Store a case that changed status, its history step, the audit entry (``via``:
        the call that moved it) and what follows."""
        uow.cases.replace(moved)
        audit.record(self._crm, uow, audit_rules.CASE_STATUS_CHANGED, "case", case.id,
                     customer_id=case.customer_id, details={
                         "from": case.status.value, "to": moved.status.value, "via": via})
        change = append_status_change(uow, history, case, moved.status, at, actor)
        after_status_change(self._crm, uow, moved, [*history, change], change, now)

    def _audit_update(self, uow: UnitOfWork, case: Case, changed: Case) -> None:
        """The entry of an update: the names of the fields changed, and the old and new
        value of the enums among them (priority, type); labels and text stay out."""
        fields = audit_rules.changed_names(case, changed, rules.EDITABLE)
        details: dict[str, Any] = {"fields": fields}
        for name in ("priority", "type"):
            if name in fields:
                details[name] = {"from": getattr(case, name).value,
                                 "to": getattr(changed, name).value}
        audit.record(self._crm, uow, audit_rules.CASE_UPDATED, "case", case.id,
                     customer_id=case.customer_id, details=details)


def _actor(message: CaseMessage) -> str | None:
    return "customer" if message.kind is MessageKind.INBOUND else message.author
