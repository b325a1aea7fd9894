"""The transactional outbox on every backend: idempotent enqueueing, dispatch order,
retries on the backoff schedule, dead letters, the send gate, leases, interactions and
notifications."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ecrm.backends.base import Backend, UnitOfWork
from ecrm.clock import ManualClock
from ecrm.crm import CRM
from ecrm.domain.outbox import (
    Cancel,
    Defer,
    MessageStatus,
    OutboxMessage,
    RetryPolicy,
    Send,
    new_message,
)
from ecrm.errors import ConflictError, DeliveryError, NotFound, ValidationError
from ecrm.hookspecs import hookimpl
from ecrm.messages import send_everything
from ecrm.testing.conformance.base import ContractBase, Recorder
from ecrm.testing.conformance.units import Boom


class RecordingChannel:
    """A delivery channel plugin that writes down what it sends. ``failures`` maps a
    message key to the errors its next tries raise, one per try."""

    def __init__(self, name: str = "email",
                 failures: dict[str, list[Exception]] | None = None) -> None:
        self.name = name
        self.sent: list[OutboxMessage] = []
        self.failures = failures or {}

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[RecordingChannel]:
        return [self]

    def send(self, message: OutboxMessage) -> str:
        waiting = self.failures.get(message.key)
        if waiting:
            raise waiting.pop(0)
        self.sent.append(message)
        return f"{self.name}-{len(self.sent)}"

    def keys(self) -> list[str]:
        """The keys of the messages sent, in order."""
        return [m.key for m in self.sent]


def events(recorder: Recorder, name: str) -> list[Any]:
    """The messages of the ``message_<name>`` notifications."""
    return [e["message"] for hook, e in recorder.events if hook == f"message_{name}"]


def mail(crm: CRM, key: str, **fields: Any) -> OutboxMessage:
    """Enqueue an e-mail to ``someone@example.com``."""
    fields.setdefault("recipient", "someone@example.com")
    return crm.messages.send(key=key, channel=fields.pop("channel", "email"),
                             purpose=fields.pop("purpose", "transactional"),
                             body=fields.pop("body", "Thank you"), **fields)


class OutboxContract(ContractBase):
    """What ``crm.messages`` and the outbox repository do on every backend."""

    @pytest.fixture
    def channel(self) -> RecordingChannel:
        return RecordingChannel()

    @pytest.fixture
    def messaging(self, backend: Backend, tenant: str, clock: ManualClock, recorder: Recorder,
            channel: RecordingChannel) -> CRM:
        """A CRM whose gate lets everything go: these tests are about the outbox's own
        mechanics (the contact gate has a contract of its own)."""
        shop = CRM(backend, tenant=tenant, clock=clock, plugins=[recorder, channel])
        shop.messages.gate = send_everything
        return shop

    def test_outbox_send_is_idempotent_by_key(self, messaging: CRM) -> None:
        alice = messaging.customers.create(email="alice@example.com", phone="+81 90 1234 5678")
        first = messaging.messages.send(key="welcome-alice", channel="email", purpose="marketing",
                                  customer_id=alice.id, subject="ようこそ", body="本文です",
                                  data={"html": "<p>本文です</p>"}, campaign_id="welcome")
        assert (first.recipient, first.status, first.attempts) == (
            "alice@example.com", MessageStatus.PENDING, 0)
        assert first.due_at == first.created_at == messaging.clock.now()
        messaging.clock.advance(minutes=5)  # type: ignore[attr-defined]
        again = messaging.messages.send(key="welcome-alice", channel="email", purpose="marketing",
                                  customer_id=alice.id, subject="ようこそ", body="本文です",
                                  data={"html": "<p>本文です</p>"}, campaign_id="welcome")
        assert again == first == messaging.messages.get(first.id)
        with pytest.raises(ConflictError):
            messaging.messages.send(key="welcome-alice", channel="email", purpose="marketing",
                              customer_id=alice.id, subject="ようこそ", body="other")
        sms = messaging.messages.send(key="sms-alice", channel="sms", purpose="transactional",
                                customer_id=alice.id, body="Your parcel is on its way")
        assert sms.recipient == "+81 90 1234 5678"
        assert messaging.messages.counts() == {"pending": 2, "sending": 0, "sent": 0, "dead": 0,
                                         "cancelled": 0}
        assert messaging.messages.counts("welcome")["pending"] == 1

    def test_outbox_recipient_and_customer_are_checked(self, messaging: CRM) -> None:
        nobody = messaging.customers.create(name="no address")
        with pytest.raises(ValidationError) as error:
            messaging.messages.send(key="k", channel="email", purpose="marketing",
                              customer_id=nobody.id, body="hi")
        assert error.value.field == "recipient"
        with pytest.raises(ValidationError) as error:
            messaging.messages.send(key="k", channel="line", purpose="marketing",
                              customer_id=nobody.id, body="hi")
        assert error.value.field == "recipient"
        with pytest.raises(NotFound):
            messaging.messages.send(key="k", channel="email", purpose="marketing",
                              customer_id="no-such-customer", body="hi")
        assert messaging.messages.list() == []

    @pytest.mark.parametrize(("field", "value"), [
        ("key", " "), ("channel", "E-mail"), ("purpose", ""), ("recipient", "x" * 321),
        ("subject", "x" * 501), ("body", ""), ("data", {"a": object()}), ("priority", 10),
        ("priority", True), ("due_at", datetime(2026, 4, 1)), ("campaign_id", 7),
        ("variant", "\x00"), ("step", "x" * 65)])
    def test_outbox_bad_input_names_the_field_and_writes_nothing(
            self, messaging: CRM, field: str, value: object) -> None:
        request: dict[str, Any] = {"key": "k", "channel": "email", "purpose": "marketing",
                                   "recipient": "a@example.com", "body": "hi", field: value}
        with pytest.raises(ValidationError) as error:
            messaging.messages.send(**request)
        assert error.value.field.partition(".")[0] == field  # "data.a": nested fields
        assert messaging.messages.list() == []

    def test_outbox_dispatch_takes_priority_then_due_time(self, messaging: CRM,
                                                          channel: RecordingChannel) -> None:
        now = messaging.clock.now()
        mail(messaging, "late-low", priority=1, due_at=now - timedelta(minutes=1))
        mail(messaging, "early-low", priority=1, due_at=now - timedelta(minutes=9))
        mail(messaging, "high", priority=9)
        mail(messaging, "future", priority=9, due_at=now + timedelta(hours=1))
        assert messaging.messages.dispatch(limit=1).sent == 1
        report = messaging.messages.dispatch()
        assert (report.sent, report.claimed) == (2, 2)
        assert channel.keys() == ["high", "early-low", "late-low"]
        assert messaging.messages.dispatch().claimed == 0
        messaging.clock.advance(hours=1)  # type: ignore[attr-defined]
        assert messaging.messages.dispatch().sent == 1
        assert channel.keys()[-1] == "future"

    def test_outbox_failures_retry_on_the_backoff_schedule(
            self, messaging: CRM, channel: RecordingChannel, recorder: Recorder) -> None:
        start = messaging.clock.now()
        channel.failures["k"] = [DeliveryError("busy")] * 3
        message = mail(messaging, "k")
        waits = []
        for _ in range(4):
            report = messaging.messages.dispatch()
            stored = messaging.messages.get(message.id)
            if report.retried:
                waits.append(stored.due_at - messaging.clock.now())
                assert messaging.messages.dispatch().claimed == 0  # not due yet
                messaging.clock.set(stored.due_at)  # type: ignore[attr-defined]
        assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
        sent = messaging.messages.get(message.id)
        assert (sent.attempts, sent.sent_at, sent.provider_id) == (
            4, start + timedelta(minutes=7), "email-1")
        assert sent.last_error == "busy"
        assert events(recorder, "sent") == [sent]
        assert events(recorder, "dead") == []

    def test_outbox_dead_letter_after_max_attempts_and_retry(
            self, messaging: CRM, channel: RecordingChannel, recorder: Recorder) -> None:
        messaging.messages.retry_policy = RetryPolicy(max_attempts=3, base=timedelta(seconds=10))
        channel.failures["k"] = [RuntimeError("boom")] * 3
        message = mail(messaging, "k")
        for _ in range(3):
            messaging.messages.dispatch()
            messaging.clock.advance(hours=1)  # type: ignore[attr-defined]
        dead = messaging.messages.get(message.id)
        assert (dead.status, dead.attempts) == (MessageStatus.DEAD, 3)
        assert dead.last_error == "RuntimeError: boom"
        assert events(recorder, "dead") == [dead]
        assert messaging.messages.dispatch().claimed == 0
        assert messaging.messages.list(status="dead") == [dead]
        revived = messaging.messages.retry(message.id)
        assert (revived.status, revived.attempts, revived.due_at) == (
            MessageStatus.PENDING, 0, messaging.clock.now())
        with pytest.raises(ConflictError):
            messaging.messages.retry(message.id)
        assert messaging.messages.dispatch().sent_ids == (message.id,)
        with pytest.raises(NotFound):
            messaging.messages.retry("no-such-message")

    def test_outbox_permanent_errors_and_unknown_channels_go_dead_at_once(
            self, messaging: CRM, channel: RecordingChannel) -> None:
        channel.failures["refused"] = [DeliveryError("550 no such user", permanent=True)]
        refused = mail(messaging, "refused")
        nowhere = mail(messaging, "nowhere", channel="carrier_pigeon")
        report = messaging.messages.dispatch()
        assert sorted(report.dead_ids) == sorted([refused.id, nowhere.id])
        assert messaging.messages.get(refused.id).last_error == "550 no such user"
        assert "no delivery channel named 'carrier_pigeon'" in str(
            messaging.messages.get(nowhere.id).last_error)

    def test_outbox_gate_defers_and_cancels(self, messaging: CRM, channel: RecordingChannel,
                                            recorder: Recorder) -> None:
        later = messaging.clock.now() + timedelta(hours=8)
        decisions = {"quiet": Defer(later, "quiet hours"), "optout": Cancel("no consent")}
        asked: list[tuple[str, MessageStatus]] = []

        def gate(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Any:
            asked.append((message.key, message.status))
            return decisions.get(message.key, Send())

        messaging.messages.gate = gate
        quiet, optout, fine = (mail(messaging, key) for key in ("quiet", "optout", "fine"))
        report = messaging.messages.dispatch()
        assert (report.sent_ids, report.deferred_ids, report.cancelled_ids) == (
            (fine.id,), (quiet.id,), (optout.id,))
        assert sorted(asked) == [("fine", "sending"), ("optout", "sending"),
                                 ("quiet", "sending")]
        held = messaging.messages.get(quiet.id)
        assert (held.status, held.due_at, held.attempts, held.last_error) == (
            MessageStatus.PENDING, later, 0, "quiet hours")
        stopped = messaging.messages.get(optout.id)
        assert (stopped.status, stopped.last_error) == (MessageStatus.CANCELLED, "no consent")
        del decisions["quiet"]
        messaging.clock.set(later)  # type: ignore[attr-defined]
        assert messaging.messages.dispatch().sent_ids == (quiet.id,)
        assert channel.keys() == ["fine", "quiet"]
        assert messaging.messages.get(quiet.id).attempts == 1

    def test_outbox_a_gate_that_fails_leaves_messages_pending(self, messaging: CRM,
                                                              recorder: Recorder) -> None:
        message = mail(messaging, "k")

        def broken(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> Any:
            raise Boom

        messaging.messages.gate = broken
        with pytest.raises(Boom):
            messaging.messages.dispatch()
        assert messaging.messages.get(message.id) == message
        messaging.messages.gate = lambda uow, m, now: Defer(now, "not later")
        with pytest.raises(ValidationError) as error:
            messaging.messages.dispatch()
        assert error.value.field == "gate"
        assert messaging.messages.get(message.id) == message

    def test_outbox_cancel(self, messaging: CRM) -> None:
        message = mail(messaging, "k")
        cancelled = messaging.messages.cancel(message.id, reason="order cancelled")
        assert (cancelled.status, cancelled.last_error) == (
            MessageStatus.CANCELLED, "order cancelled")
        assert messaging.messages.cancel(message.id) == cancelled
        assert messaging.messages.dispatch().claimed == 0
        sent = mail(messaging, "sent")
        messaging.messages.dispatch()
        with pytest.raises(ConflictError):
            messaging.messages.cancel(sent.id)

    def test_outbox_an_expired_lease_makes_a_message_claimable_again(
            self, backend: Backend, tenant: str, messaging: CRM, clock: ManualClock) -> None:
        message = mail(messaging, "k")
        now = clock.now()
        lease = now + timedelta(minutes=5)
        with backend.unit_of_work(tenant) as uow:
            claimed = uow.outbox.claim_due(now, 10, lease)
        assert [(m.id, m.status, m.due_at, m.lease_until) for m in claimed] == [
            (message.id, MessageStatus.SENDING, lease, lease)]
        with backend.unit_of_work(tenant) as uow:
            assert uow.outbox.claim_due(now + timedelta(minutes=4), 10, lease) == []
        urgent = mail(messaging, "urgent", priority=9)
        later = now + timedelta(minutes=5)
        new_lease = later + timedelta(minutes=5)
        with backend.unit_of_work(tenant) as uow:  # an expired claim goes first
            again = uow.outbox.claim_due(later, 1, new_lease)
        assert [m.id for m in again] == [message.id]
        with backend.unit_of_work(tenant) as uow:
            assert [m.id for m in uow.outbox.claim_due(later, 10, new_lease)] == [urgent.id]
        with backend.unit_of_work(tenant) as uow:  # the first worker's result comes late
            assert not uow.outbox.settle(claimed[0], lease)
            assert uow.outbox.settle(again[0], new_lease)
        assert set(messaging.messages.dispatch(now=new_lease).sent_ids) == {message.id,
                                                                            urgent.id}

    def test_outbox_sent_messages_are_on_the_timeline(self, backend: Backend, tenant: str,
                                                      clock: ManualClock,
                                                      recorder: Recorder) -> None:
        crm = CRM(backend, tenant=tenant, clock=clock,
                  plugins=[recorder, RecordingChannel("email"), RecordingChannel("webhook")])
        crm.messages.gate = send_everything
        alice = crm.customers.create(email="alice@example.com")
        email = crm.messages.send(key="e", channel="email", purpose="marketing",
                                  customer_id=alice.id, body="hi", campaign_id="spring")
        hook = crm.messages.send(key="w", channel="webhook", purpose="transactional",
                                 customer_id=alice.id, recipient="line:U123", body="hi")
        crm.messages.send(key="guest", channel="email", purpose="transactional",
                          recipient="guest@example.com", body="hi")
        assert crm.messages.dispatch().sent == 3
        found = {i.reference: i for name, e in recorder.events
                 if name == "interaction_recorded" for i in [e["interaction"]]}
        assert set(found) == {email.id, hook.id}
        assert (found[email.id].channel, found[email.id].kind, found[email.id].payload) == (
            "email", "email_sent", {"purpose": "marketing", "campaign_id": "spring"})
        assert (found[hook.id].channel, found[hook.id].kind) == ("other", "message_out")
        assert found[email.id].customer_id == alice.id
        timeline = crm.interactions.timeline(alice.id).events
        assert sorted(e.id for e in timeline) == sorted(i.id for i in found.values())

    def test_outbox_hooks_fire_after_commit_only(self, backend: Backend, tenant: str,
                                                 clock: ManualClock) -> None:
        seen: list[tuple[str, MessageStatus]] = []

        class Watcher:
            @hookimpl
            def ecrm_message_sent(self, crm: CRM, message: OutboxMessage) -> None:
                seen.append(("sent", crm.messages.get(message.id).status))

            @hookimpl
            def ecrm_message_dead(self, crm: CRM, message: OutboxMessage) -> None:
                seen.append(("dead", crm.messages.get(message.id).status))

        failing = RecordingChannel(failures={"bad": [DeliveryError("no", permanent=True)]})
        crm = CRM(backend, tenant=tenant, clock=clock, plugins=[Watcher(), failing])
        crm.messages.gate = send_everything
        mail(crm, "good")
        mail(crm, "bad")
        crm.messages.gate = lambda uow, m, now: _raise(Boom())
        with pytest.raises(Boom):
            crm.messages.dispatch()
        assert seen == []
        crm.messages.gate = lambda uow, m, now: Send()
        crm.messages.dispatch()
        assert sorted(seen) == [("dead", MessageStatus.DEAD), ("sent", MessageStatus.SENT)]

    def test_outbox_enqueue_joins_the_callers_unit_of_work(self, messaging: CRM,
                                                           tenant: str) -> None:
        alice = messaging.customers.create(email="alice@example.com")
        batch = [_built(messaging, f"spring-{n}", alice.id) for n in range(5)]
        with pytest.raises(Boom):
            messaging.transact(lambda uow: (messaging.messages.enqueue(uow, batch), _raise(Boom())))
        assert messaging.messages.list() == []
        stored = messaging.transact(lambda uow: messaging.messages.enqueue(uow, batch + batch[:1]))
        assert [m.key for m in stored] == [f"spring-{n}" for n in range(5)] + ["spring-0"]
        replay = [_built(messaging, f"spring-{n}", alice.id) for n in range(6)]
        again = messaging.transact(lambda uow: messaging.messages.enqueue(uow, replay))
        assert again[:5] == stored[:5]
        assert len(messaging.messages.list(campaign_id="spring")) == 6
        assert [m.key for m in messaging.messages.for_customer(alice.id)] == [
            f"spring-{n}" for n in range(6)]
        changed = [_built(messaging, "spring-1", alice.id, body="other")]
        with pytest.raises(ConflictError):
            messaging.transact(lambda uow: messaging.messages.enqueue(uow, changed))
        with pytest.raises(NotFound):
            messaging.transact(lambda uow: messaging.messages.enqueue(
                uow, [_built(messaging, "ghost", "no-such-customer")]))
        with pytest.raises(ValidationError):
            messaging.transact(lambda uow: messaging.messages.enqueue(uow, ["not a message"]))
        assert len(messaging.messages.list(limit=100)) == 6

    def test_outbox_messages_follow_a_merge(self, messaging: CRM) -> None:
        keep = messaging.customers.create(email="keep@example.com")
        gone = messaging.customers.create(email="gone@example.com")
        message = messaging.messages.send(key="k", channel="email", purpose="marketing",
                                    customer_id=gone.id, body="hi")
        messaging.customers.merge(keep.id, gone.id)
        assert messaging.messages.get(message.id).customer_id == keep.id
        assert [m.id for m in messaging.messages.for_customer(keep.id)] == [message.id]
        assert messaging.messages.dispatch().sent == 1


def _built(crm: CRM, key: str, customer_id: str, *, body: str = "Spring sale") -> OutboxMessage:
    from ecrm.domain.ids import new_id

    return new_message(message_id=new_id(), key=key, channel="email", purpose="marketing",
                       customer_id=customer_id, recipient="alice@example.com",
                       subject="Sale", body=body, data=None, priority=3, due_at=None,
                       campaign_id="spring", variant="a", step=None, now=crm.clock.now())


def _raise(error: Exception) -> Any:
    raise error

