"""No message goes out without the consent it needs, to a suppressed address, in quiet
hours or past a frequency cap: random schedules of consents, suppressions, sends and
dispatches, checked against what the channel actually delivered (memory and SQLite)."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrm import CRM, ContactPolicy, FrequencyCap, ManualClock, QuietHours, hookimpl
from ecrm.backends.memory import MemoryBackend
from ecrm.backends.sql import SQLBackend, make_engine

START = datetime(2026, 5, 1, tzinfo=timezone.utc)
ZONES = ("Asia/Tokyo", "Europe/Berlin")
CAP = FrequencyCap(2, timedelta(days=3))
QUIET = QuietHours(time(21), time(8))
POLICY = ContactPolicy(caps=[CAP], quiet_hours=QUIET)

#: (hour offset from START, action, customer index, purpose)
Event = tuple[int, str, int, str]
events = st.lists(st.tuples(
    st.integers(0, 10 * 24), st.sampled_from(["grant", "withdraw", "suppress", "send",
                                              "send", "send", "dispatch"]),
    st.integers(0, 2), st.sampled_from(["marketing", "marketing", "transactional"])),
    max_size=40)


class Inbox:
    """A delivery channel that writes down when each message reached it."""

    name = "email"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.delivered: list[tuple[str, str, datetime]] = []

    @hookimpl
    def ecrm_delivery_channels(self, crm: CRM) -> list[Inbox]:
        return [self]

    def send(self, message) -> None:
        self.delivered.append((message.customer_id, message.purpose, self.clock.now()))


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "memory":
        yield MemoryBackend()
        return
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('contact')}/shop.db")
    found = SQLBackend(engine)
    found.create_schema()
    yield found
    engine.dispose()


def allowed_by_consent(history: list[tuple[datetime, str, str, str]], customer: str,
                       purpose: str, at: datetime) -> bool:
    """The plain reading of consent at ``at``: the latest decision before it."""
    decisions = [action for when, action, who, why in history
                 if who == customer and why == purpose and when <= at]
    if not decisions:
        return purpose == "transactional"
    return decisions[-1] == "grant"


def quiet(zone: str, at: datetime) -> bool:
    clock = at.astimezone(ZoneInfo(zone)).time()
    return clock >= QUIET.start or clock < QUIET.end


@settings(max_examples=40, deadline=None)
@given(plan=events)
def test_deliveries_keep_consent_suppression_quiet_hours_and_caps(backend,
                                                                  plan: list[Event]) -> None:
    clock = ManualClock(START)
    inbox = Inbox(clock)
    crm = CRM(backend, tenant=f"c-{uuid.uuid4().hex[:10]}", clock=clock, plugins=[inbox],
              contact=POLICY)
    people = [crm.customers.create(email=f"p{n}@example.jp",
                                   attributes={"timezone": ZONES[n % 2]}).id
              for n in range(3)]
    history: list[tuple[datetime, str, str, str]] = []
    suppressed: dict[str, datetime] = {}
    for number, (hour, action, who, purpose) in enumerate(sorted(plan)):
        clock.set(START + timedelta(hours=hour, seconds=number))
        customer = people[who]
        if action in ("grant", "withdraw"):
            getattr(crm.consent, action)(customer, "email", purpose=purpose)
            history.append((clock.now(), action, customer, purpose))
        elif action == "suppress":
            crm.suppressions.add("email", f"p{who}@example.jp")
            suppressed.setdefault(customer, clock.now())
        elif action == "send":
            crm.messages.send(key=f"m{number}", channel="email", purpose=purpose,
                              customer_id=customer, body="hello")
        else:
            crm.messages.dispatch(limit=1000)
    for day in range(12):  # drain: deferred messages come due in the mornings
        clock.set(START + timedelta(days=11 + day / 2))
        crm.messages.dispatch(limit=1000)
    zone_of = dict(zip(people, (ZONES[n % 2] for n in range(3)), strict=True))
    marketing: dict[str, list[datetime]] = {p: [] for p in people}
    for customer, purpose, at in inbox.delivered:
        assert allowed_by_consent(history, customer, purpose, at)
        assert customer not in suppressed or at < suppressed[customer]
        if purpose == "marketing":
            assert not quiet(zone_of[customer], at)
            marketing[customer].append(at)
    for times in marketing.values():
        for at in times:
            assert sum(1 for other in times if at - CAP.per < other <= at) <= CAP.limit
    assert crm.messages.counts()["pending"] == 0
