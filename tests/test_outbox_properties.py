"""Any sequence of enqueueing, dispatching with a channel that fails at random, and time
passing: every message ends up sent exactly once, or dead after exactly ``max_attempts``
tries; none is lost, none is sent twice, and no message is tried more often than allowed."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm import CRM, DeliveryError, ManualClock, MessageStatus, OutboxMessage, RetryPolicy
from ecrm.backends import MemoryBackend
from ecrm.hookspecs import hookimpl
from ecrm.messages import send_everything

POLICY = RetryPolicy(max_attempts=3, base=timedelta(minutes=1), factor=2,
                     cap=timedelta(minutes=10))

Step = tuple[str, int]
steps = st.lists(st.one_of(
    st.tuples(st.just("enqueue"), st.integers(1, 4)),
    st.tuples(st.just("dispatch"), st.integers(1, 5)),
    st.tuples(st.just("advance"), st.integers(0, 12))), max_size=25)


class CoinFlipChannel:
    """Fails each try with probability ``odds`` (drawn from ``rng``), counting the tries
    of every message and the deliveries."""

    name = "email"

    def __init__(self, rng: random.Random, odds: float) -> None:
        self.rng, self.odds = rng, odds
        self.tries: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[CoinFlipChannel]:
        return [self]

    def send(self, message: OutboxMessage) -> None:
        self.tries[message.id] += 1
        if self.rng.random() < self.odds:
            raise DeliveryError("coin came up tails")
        self.delivered[message.id] += 1


@pytest.fixture(params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest):
    if request.param == "memory":
        return MemoryBackend()
    return request.getfixturevalue("sqlite_backend")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=steps, seed=st.integers(0, 2**32), odds=st.sampled_from([0.0, 0.3, 0.7, 1.0]))
def test_every_message_is_sent_once_or_dead_after_its_tries(backend, plan: list[Step],
                                                             seed: int, odds: float) -> None:
    clock = ManualClock(datetime(2026, 4, 1, tzinfo=timezone.utc))
    channel = CoinFlipChannel(random.Random(seed), odds)
    crm = CRM(backend, tenant=f"p-{uuid.uuid4().hex[:12]}", clock=clock, plugins=[channel])
    crm.messages.retry_policy = POLICY
    crm.messages.gate = send_everything  # the outbox's own rules; the policy has its own
    enqueued: list[str] = []
    for action, amount in plan:
        run(crm, action, amount, enqueued)
        check_invariants(crm, channel, enqueued)
    for _ in range(POLICY.max_attempts + 1):  # let every message finish
        clock.advance(POLICY.cap)
        while crm.messages.dispatch(limit=50).claimed:
            pass
    check_invariants(crm, channel, enqueued)
    for message in crm.messages.list(limit=1000):
        assert message.status in (MessageStatus.SENT, MessageStatus.DEAD), message
        if message.status == MessageStatus.SENT:
            assert channel.delivered[message.id] == 1
        else:
            assert channel.tries[message.id] == message.attempts == POLICY.max_attempts


def run(crm: CRM, action: str, amount: int, enqueued: list[str]) -> None:
    """Do one step of the plan."""
    if action == "enqueue":
        for _ in range(amount):
            key = f"k{len(enqueued)}"
            enqueued.append(crm.messages.send(key=key, channel="email", purpose="marketing",
                                              recipient="a@example.com", body=key).id)
    elif action == "dispatch":
        crm.messages.dispatch(limit=amount)
    else:
        crm.clock.advance(minutes=amount)  # type: ignore[attr-defined]


def check_invariants(crm: CRM, channel: CoinFlipChannel, enqueued: list[str]) -> None:
    """Nothing lost, nothing sent twice, no message tried too often, and the stored
    attempts agree with the channel's count."""
    stored = {m.id: m for m in crm.messages.list(limit=1000)}
    assert sorted(stored) == sorted(enqueued)
    assert all(count == 1 for count in channel.delivered.values())
    for message_id, message in stored.items():
        assert message.attempts == channel.tries[message_id] <= POLICY.max_attempts
        assert (message.status == MessageStatus.SENT) == (channel.delivered[message_id] == 1)
