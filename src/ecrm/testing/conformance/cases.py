"""Support cases on every backend: the thread, the life cycle, surveys, SLA breaches and
the cases' place in the timeline."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.business_hours import BusinessCalendar
from ecrm.domain.cases import CaseStatus, SLAMetric
from ecrm.domain.sla import SLATarget, SupportPolicy
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase, record, snapshot
from ecrm.testing.conformance.concurrency import run_together

#: Tokyo office hours, Monday to Friday 9:00-18:00; START (2026-04-01) is a Wednesday.
OFFICE = BusinessCalendar.weekdays(time(9), time(18), timezone="Asia/Tokyo")
SLA_POLICY = SupportPolicy(calendar=OFFICE, targets=(
    SLATarget(first_response=timedelta(hours=4), resolution=timedelta(hours=16)),
    SLATarget(priority="urgent", first_response=timedelta(hours=1)),
))


def named(recorder: Any, name: str, field: str) -> list[Any]:
    """The ``field`` argument of every ``name`` notification, in order."""
    return [kwargs[field] for event, kwargs in recorder.events if event == name]


def open_case(crm: CRM, customer_id: str, **fields: Any) -> Any:
    """Open an inquiry by e-mail at START with a first message (fields override)."""
    values: dict[str, Any] = {"subject": "Where is my parcel?", "channel": "email",
                              "body": "注文した商品がまだ届きません。", "occurred_at": START}
    return crm.cases.open(customer_id, **{**values, **fields})


class CaseContract(ContractBase):
    """What ``crm.cases`` does on every backend."""

    @pytest.fixture
    def crm(self, backend, tenant: str, clock: ManualClock, recorder) -> CRM:
        clock.set(START)
        return CRM(backend, tenant=tenant, clock=clock, plugins=[recorder],
                   support=SLA_POLICY)

    def test_an_opened_case_comes_back_with_its_thread(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="山田 花子")
        record(crm, "o-1", customer.id)
        case = open_case(crm, customer.id, type="complaint", priority="high",
                         category="delivery", tags=["late", "carrier"], team="care",
                         order_ids=["o-1"], external_id="<m1@example.jp>", author="hanako")
        assert crm.cases.get(case.id) == case
        assert (case.status, case.type, case.priority) == ("new", "complaint", "high")
        assert case.tags == ("carrier", "late") and case.order_ids == ("o-1",)
        [message] = crm.cases.messages(case.id)
        assert (message.kind, message.body, message.external_id) == (
            "inbound", "注文した商品がまだ届きません。", "<m1@example.jp>")
        assert [(c.seq, c.old, c.new) for c in crm.cases.history(case.id)] == [
            (1, None, CaseStatus.NEW)]
        assert crm.cases.for_customer(customer.id) == [case]
        assert crm.cases.for_order("o-1") == [case]
        assert named(recorder, "case_opened", "case") == [case]
        assert named(recorder, "case_message_added", "message") == [message]
        with pytest.raises(NotFound):
            crm.cases.get("no-such-case")

    def test_opening_again_with_the_same_message_is_a_replay(self, crm: CRM, recorder
                                                             ) -> None:
        customer = crm.customers.create(name="alice")
        first = open_case(crm, customer.id, external_id="m-1")
        assert open_case(crm, customer.id, external_id="m-1") == first
        assert crm.cases.for_customer(customer.id) == [first]
        with pytest.raises(ConflictError):
            open_case(crm, customer.id, external_id="m-1", body="something else")
        assert len(named(recorder, "case_opened", "case")) == 1

    @pytest.mark.parametrize("fields, field", [
        ({"channel": "pigeon"}, "channel"),
        ({"type": "praise"}, "type"),
        ({"priority": "asap"}, "priority"),
        ({"subject": "  "}, "subject"),
        ({"body": "x" * 50_001}, "body"),
        ({"payload": {"blob": "x" * 5000}}, "payload"),
        ({"tags": "late"}, "tags"),
        ({"order_ids": ["o-missing"]}, "order_ids"),
        ({"occurred_at": START.replace(tzinfo=None)}, "occurred_at"),
        ({"body": None, "external_id": "m-9"}, "external_id"),
    ])
    def test_bad_input_opens_nothing(self, crm: CRM, fields: dict[str, Any],
                                     field: str) -> None:
        customer = crm.customers.create(name="alice")
        before = snapshot(crm)
        with pytest.raises(ValidationError) as raised:
            open_case(crm, customer.id, **fields)
        assert raised.value.field == field
        assert snapshot(crm) == before and crm.cases.for_customer(customer.id) == []

    def test_orders_of_another_customer_cannot_be_linked(self, crm: CRM) -> None:
        alice, bob = crm.customers.create(name="alice"), crm.customers.create(name="bob")
        record(crm, "o-bob", bob.id)
        with pytest.raises(ValidationError, match="another customer"):
            open_case(crm, alice.id, order_ids=["o-bob"])
        case = open_case(crm, alice.id)
        with pytest.raises(ValidationError):
            crm.cases.link_order(case.id, "o-bob")
        record(crm, "o-alice", alice.id)
        linked = crm.cases.link_order(case.id, "o-alice")
        assert linked.order_ids == ("o-alice",)
        assert crm.cases.link_order(case.id, "o-alice") == linked
        assert crm.cases.for_order("o-alice") == [linked]
        with pytest.raises(ValidationError):
            open_case(crm, "no-such-customer")

    def test_only_legal_status_changes_are_allowed(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        before = snapshot(crm)
        with pytest.raises(ConflictError, match="new; it can move to"):
            crm.cases.change_status(case.id, "closed")
        with pytest.raises(ValidationError):
            crm.cases.change_status(case.id, "done")
        assert snapshot(crm) == before and crm.cases.get(case.id) == case
        for status in ("open", "pending", "open", "resolved", "closed"):
            crm.clock.advance(timedelta(minutes=5))
            case = crm.cases.change_status(case.id, status, actor="agent-1")
        assert case.status == "closed" and case.closed_at == crm.clock.now()
        assert [c.new for c in crm.cases.history(case.id)] == [
            "new", "open", "pending", "open", "resolved", "closed"]
        assert named(recorder, "case_status_changed", "case")[-1] == case
        with pytest.raises(ConflictError, match="final"):
            crm.cases.change_status(case.id, "open")
        with pytest.raises(ValidationError, match="before"):
            other = open_case(crm, customer.id)
            crm.cases.change_status(other.id, "open", at=START - timedelta(hours=1))

    def test_a_reply_is_the_first_response_and_opens_the_case(self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        crm.clock.advance(timedelta(minutes=30))
        crm.cases.add_message(case.id, body="社内メモ", kind="note", author="agent-1")
        assert crm.cases.get(case.id).status == "new"
        reply = crm.cases.add_message(case.id, body="確認いたします。", kind="reply",
                                      author="agent-1", channel="phone")
        case = crm.cases.get(case.id)
        assert case.status == "open" and case.first_response_at == reply.occurred_at
        crm.clock.advance(timedelta(minutes=30))
        crm.cases.add_message(case.id, body="追って連絡します", kind="reply")
        assert crm.cases.get(case.id).first_response_at == reply.occurred_at
        assert [m.kind for m in crm.cases.messages(case.id)] == [
            "inbound", "note", "reply", "reply"]
        assert crm.cases.messages(case.id)[2].channel == "phone"

    def test_the_customer_writing_moves_pending_and_recently_resolved_cases(
            self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        crm.cases.change_status(case.id, "pending")
        crm.clock.advance(timedelta(hours=1))
        crm.cases.add_message(case.id, body="写真を送ります")
        assert crm.cases.get(case.id).status == "open"
        crm.cases.change_status(case.id, "resolved")
        crm.clock.advance(timedelta(days=6))
        crm.cases.add_message(case.id, body="まだ壊れています")
        reopened = crm.cases.get(case.id)
        assert (reopened.status, reopened.reopen_count, reopened.resolved_at) == (
            "open", 1, None)
        assert crm.cases.history(case.id)[-1].actor == "customer"

    def test_messages_after_the_reopen_window_follow_the_policy(self, crm: CRM,
                                                                backend, tenant) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        crm.cases.change_status(case.id, "resolved")
        crm.clock.advance(timedelta(days=8))
        before = snapshot(crm)
        with pytest.raises(ConflictError, match="reopen window"):
            crm.cases.add_message(case.id, body="また問題です")
        assert snapshot(crm) == before and len(crm.cases.messages(case.id)) == 1
        crm.cases.change_status(case.id, "closed")
        with pytest.raises(ConflictError):
            crm.cases.add_message(case.id, body="また問題です")
        with pytest.raises(ConflictError, match="closed"):
            crm.cases.add_message(case.id, body="ご連絡です", kind="reply")
        lenient = CRM(backend, tenant=tenant, clock=crm.clock, support=SupportPolicy(
            closed_case_messages="reopen"))
        lenient.cases.add_message(case.id, body="また問題です")
        reopened = lenient.cases.get(case.id)
        assert (reopened.status, reopened.reopen_count, reopened.closed_at) == ("open", 1,
                                                                                None)

    def test_messages_are_idempotent_by_external_id(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id, external_id="m-1")
        reply = crm.cases.add_message(case.id, body="ok", kind="reply", external_id="r-1")
        assert crm.cases.add_message(case.id, body="ok", kind="reply",
                                     external_id="r-1") == reply
        with pytest.raises(ConflictError):
            crm.cases.add_message(case.id, body="other", kind="reply", external_id="r-1")
        other = open_case(crm, customer.id, external_id="m-2")
        with pytest.raises(ConflictError):
            crm.cases.add_message(other.id, body="ok", kind="reply", external_id="r-1")
        assert crm.cases.thread_of(["<unknown>", "r-1"]) == crm.cases.get(case.id)
        assert crm.cases.thread_of(["m-2"]) == other
        assert crm.cases.thread_of([]) is None and crm.cases.thread_of(["zzz"]) is None
        assert len(named(recorder, "case_message_added", "message")) == 3

    def test_update_changes_labels_and_writes_nothing_without_a_change(self, crm: CRM
                                                                       ) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id, category="delivery")
        crm.clock.advance(timedelta(minutes=1))
        assert crm.cases.update(case.id, category="delivery") == case
        changed = crm.cases.update(case.id, priority="urgent", root_cause="carrier_delay",
                                   assignee="agent-7", category=None, tags=["vip"])
        assert (changed.priority, changed.root_cause, changed.category, changed.tags) == (
            "urgent", "carrier_delay", None, ("vip",))
        assert changed.updated_at == crm.clock.now() and crm.cases.get(case.id) == changed
        with pytest.raises(ValidationError) as raised:
            crm.cases.update(case.id, status="closed")
        assert raised.value.field == "status"

    def test_resolving_asks_for_a_survey_answered_once(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        crm.cases.change_status(case.id, "resolved")
        [survey] = crm.cases.surveys(case.id)
        assert (survey.kind, survey.customer_id, survey.answered_at) == ("csat", customer.id,
                                                                         None)
        assert named(recorder, "survey_requested", "survey") == [survey]
        with pytest.raises(ValidationError):
            crm.cases.answer_survey(survey.id, 6)
        answered = crm.cases.answer_survey(survey.id, 5, comment="丁寧な対応でした")
        assert crm.cases.answer_survey(survey.id, 5, comment="丁寧な対応でした") == answered
        with pytest.raises(ConflictError):
            crm.cases.answer_survey(survey.id, 1)
        assert crm.cases.surveys(case.id) == [answered]
        events = crm.interactions.timeline(customer.id, kinds=["survey_answer"]).events
        assert [e.item.payload for e in events] == [{"survey": "csat", "score": 5}]
        assert named(recorder, "survey_answered", "survey") == [answered]
        with pytest.raises(NotFound):
            crm.cases.answer_survey("no-such-survey", 3)

    def test_cases_and_messages_are_in_the_timeline(self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id)
        crm.clock.advance(timedelta(minutes=5))
        reply = crm.cases.add_message(case.id, body="ok", kind="reply", channel="phone")
        events = crm.interactions.timeline(customer.id).events
        assert [(e.source, e.kind, e.channel) for e in events] == [
            ("case", "case_reply", "phone"), ("case", "case_inbound", "email"),
            ("case", "case_opened", "email")]
        assert events[0].item == reply and events[2].item == crm.cases.get(case.id)
        only = crm.interactions.timeline(customer.id, kinds=["case_opened"],
                                         channels=["email"]).events
        assert [e.kind for e in only] == ["case_opened"]
        assert crm.interactions.timeline(customer.id, sources=["order"]).events == []

    def test_a_merge_moves_cases_to_the_survivor(self, crm: CRM) -> None:
        survivor, duplicate = (crm.customers.create(name="a"), crm.customers.create(name="b"))
        case = open_case(crm, duplicate.id)
        crm.cases.change_status(case.id, "resolved")
        crm.customers.merge(survivor.id, duplicate.id)
        assert [c.id for c in crm.cases.for_customer(survivor.id)] == [case.id]
        assert {m.customer_id for m in crm.cases.messages(case.id)} == {survivor.id}
        assert crm.cases.surveys(case.id)[0].customer_id == survivor.id

    def test_sla_clocks_run_in_business_hours(self, crm: CRM) -> None:
        customer = crm.customers.create(name="alice")
        friday_evening = START.replace(day=3, hour=17)  # Friday 17:00 JST
        crm.clock.set(friday_evening)
        case = open_case(crm, customer.id, occurred_at=friday_evening)
        crm.clock.set(friday_evening + timedelta(days=3))  # Monday 17:00
        sla = crm.cases.sla(case.id)
        assert sla.first_response is not None and sla.first_response.elapsed == timedelta(
            hours=9)
        assert sla.first_response.remaining == timedelta(hours=-5)
        assert crm.cases.breaches(case.id) == []  # found by the check job, not by reading

    def test_the_check_job_records_a_breach_once(self, crm: CRM, recorder) -> None:
        customer = crm.customers.create(name="alice")
        case = open_case(crm, customer.id, priority="urgent")  # Wednesday 9:00 JST
        late = open_case(crm, customer.id)
        crm.clock.advance(timedelta(minutes=59))
        assert crm.cases.check_sla() == []
        crm.clock.advance(timedelta(minutes=2))
        [breach] = crm.cases.check_sla()
        assert (breach.case_id, breach.metric, breach.due_at) == (
            case.id, SLAMetric.FIRST_RESPONSE, START + timedelta(hours=1))
        assert crm.cases.check_sla() == []
        crm.clock.advance(timedelta(hours=4))
        crm.cases.add_message(late.id, body="遅くなりました", kind="reply")
        [late_breach] = crm.cases.breaches(late.id)
        assert late_breach.due_at == START + timedelta(hours=4)
        assert crm.cases.check_sla() == []
        assert [b.case_id for b in named(recorder, "sla_breached", "breach")] == [
            case.id, late.id]

    def test_racing_check_jobs_record_each_breach_once(self, crm: CRM, backend, tenant,
                                                       clock) -> None:
        customer = crm.customers.create(name="alice")
        cases = [open_case(crm, customer.id, priority="urgent") for _ in range(3)]
        clock.advance(timedelta(hours=2))
        workers = [CRM(backend, tenant=tenant, clock=clock, support=SLA_POLICY)
                   for _ in range(4)]
        found = run_together(lambda i: workers[i].cases.check_sla(), workers=4)
        assert not [f for f in found if isinstance(f, Exception)]
        recorded = [b for batch in found for b in batch]
        assert sorted(b.case_id for b in recorded) == sorted(c.id for c in cases)
        assert all(len(crm.cases.breaches(c.id)) == 1 for c in cases)

    def test_figures_are_the_same_on_every_backend(self, crm: CRM) -> None:
        alice, bob = crm.customers.create(name="alice"), crm.customers.create(name="bob")
        fast = open_case(crm, alice.id, type="complaint", category="damaged", team="care")
        slow = open_case(crm, bob.id, type="complaint", category="damaged", team="care")
        open_case(crm, alice.id, type="complaint", category="late", team="logistics")
        crm.clock.advance(timedelta(hours=1))
        crm.cases.add_message(fast.id, body="すぐ対応します", kind="reply")
        crm.cases.change_status(fast.id, "resolved")
        crm.clock.advance(timedelta(hours=5))
        crm.cases.add_message(slow.id, body="遅れました", kind="reply")
        crm.cases.check_sla()
        [survey] = crm.cases.surveys(fast.id)
        crm.cases.answer_survey(survey.id, 5)
        period = {"since": START, "until": START + timedelta(days=1)}
        care, logistics = crm.cases.figures(by="team", **period)
        assert (care.group, care.cases, care.resolved, care.breached) == ("care", 2, 1, 1)
        assert care.first_response_mean == timedelta(hours=3, minutes=30)
        assert care.first_response_median == timedelta(hours=3, minutes=30)
        assert care.resolution_mean == timedelta(hours=1)
        assert (care.breach_rate, care.csat, care.csat_answers) == (0.5, 1.0, 1)
        assert (logistics.group, logistics.cases, logistics.breached) == ("logistics", 1, 1)
        assert crm.cases.top_categories(**period) == [("damaged", 2), ("late", 1)]
        assert crm.cases.repeat_complainers(**period) == [(alice.id, 2)]
        [nothing] = crm.cases.figures(since=START + timedelta(days=1),
                                      until=START + timedelta(days=2))
        assert (nothing.group, nothing.cases, nothing.breach_rate) == (None, 0, None)
        with pytest.raises(ValidationError):
            crm.cases.figures(since=START.replace(tzinfo=None), until=START)
