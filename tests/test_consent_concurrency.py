"""Consent decisions for one customer from many threads at once, on the real servers:
every decision is in the history, the state is the latest, and the notifications form one
chain of changes per channel."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone

from ecrm import CRM, Consent, ManualClock
from ecrm.backends.sql import SQLBackend
from ecrm.testing.conformance.base import Recorder
from ecrm.testing.conformance.concurrency import run_together

WHEN = datetime(2026, 4, 1, tzinfo=timezone.utc)
WORKERS = 12
CALLS = 120


def timed_calls(seed: int) -> list[tuple[str, bool, datetime]]:
    """``CALLS`` decisions on two channels, each at a time of its own, shuffled."""
    rng = random.Random(seed)
    minutes = list(range(CALLS))
    rng.shuffle(minutes)
    return [(("email", "sms")[n % 2], rng.random() < 0.5, WHEN + timedelta(minutes=m))
            for n, m in enumerate(minutes)]


def latest(calls: list[tuple[str, bool, datetime]]) -> dict[str, tuple[bool, datetime]]:
    """Per channel, the decision made last."""
    found: dict[str, tuple[bool, datetime]] = {}
    for channel, granted, when in sorted(calls, key=lambda c: c[2]):
        found[channel] = (granted, when)
    return found


def assert_one_chain(recorder: Recorder, final: list[Consent]) -> None:
    """Each channel's notifications lead, one by one, from no record to the final state."""
    for consent in final:
        steps = {e["previous"]: e["consent"] for name, e in recorder.events
                 if name == "consent_changed" and e["consent"].channel == consent.channel}
        current, walked = None, 0
        while current in steps:
            current, walked = steps[current], walked + 1
        assert (current, walked) == (consent, len(steps))


def test_threads_deciding_for_one_customer(wide_backend: SQLBackend) -> None:
    recorder = Recorder()
    crm = CRM(wide_backend, tenant=f"consent-{uuid.uuid4().hex[:8]}",
              clock=ManualClock(WHEN + timedelta(days=1)), plugins=[recorder])
    member = crm.customers.create(name="member")
    calls = timed_calls(seed=2026)

    def decide(worker: int) -> None:
        for channel, granted, when in calls[worker::WORKERS]:
            method = crm.consent.grant if granted else crm.consent.withdraw
            method(member.id, channel, at=when, source=f"worker {worker}")

    results = run_together(decide, workers=WORKERS)
    assert [r for r in results if r is not None] == []
    history = crm.consent.history(member.id)
    assert sorted((c.channel, c.granted, c.changed_at) for c in history) == sorted(calls)
    final = crm.consent.for_customer(member.id)
    assert {c.channel: (c.granted, c.changed_at) for c in final} == latest(calls)
    assert_one_chain(recorder, final)
