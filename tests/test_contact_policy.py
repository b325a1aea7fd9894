"""The contact policy: quiet hours in local time, frequency caps, consent and the
suppression list, checked against plain restatements over random schedules."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ecrm.domain.consent import Consent, OptInLevel
from ecrm.domain.contact_policy import (
    Contact,
    ContactPolicy,
    FrequencyCap,
    QuietHours,
    SentMessage,
    decide,
)
from ecrm.domain.outbox import Cancel, Defer, Send
from ecrm.domain.suppression import Suppression, SuppressionReason
from ecrm.errors import ValidationError

UTC = timezone.utc
BASE = datetime(2026, 3, 1, tzinfo=UTC)
TOKYO = ZoneInfo("Asia/Tokyo")
ZONES = [TOKYO, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("UTC"),
         ZoneInfo("Australia/Lord_Howe"), ZoneInfo("America/St_Johns")]
# Quarter hours, so that instants often fall exactly on a window's edge.
instants = st.integers(0, 400 * 24 * 4).map(lambda q: BASE + timedelta(minutes=15 * q))
clock_times = st.integers(0, 24 * 4 - 1).map(lambda q: time(q // 4, q % 4 * 15))
#: Pure and fast: many more examples than the suite's default.
MANY = settings(max_examples=400)
GRANTED = Consent("c", "email", True, BASE, level=OptInLevel.SINGLE)


def quiet_locally(hours: QuietHours, moment: datetime, zone: ZoneInfo) -> bool:
    """The plain reading: is the local wall-clock time inside [start, end)?"""
    clock = moment.astimezone(zone).time()
    if hours.start < hours.end:
        return hours.start <= clock < hours.end
    return clock >= hours.start or clock < hours.end


def contact(purpose: str = "marketing", consent: Consent | None = GRANTED,
            suppression: Suppression | None = None, channel: str = "email",
            zone: ZoneInfo = TOKYO) -> Contact:
    return Contact(channel, purpose, consent, suppression, zone)


@MANY
@given(clock_times, clock_times, instants, st.sampled_from(ZONES))
def test_quiet_hours_hold_exactly_the_local_window(start: time, end: time,
                                                   moment: datetime, zone: ZoneInfo) -> None:
    assume(start != end)
    hours = QuietHours(start, end)
    ends = hours.ends_after(moment, zone)
    assert (ends is not None) == quiet_locally(hours, moment, zone)
    if ends is not None:
        assert moment < ends <= moment + timedelta(hours=25)
        assert not quiet_locally(hours, ends, zone)
        # every quarter hour on the way is still quiet
        step = moment + timedelta(minutes=15)
        while step < ends - timedelta(hours=1):  # an hour's margin for DST changes
            assert quiet_locally(hours, step, zone)
            step += timedelta(minutes=15)


@MANY
@given(st.lists(st.tuples(st.integers(0, 30 * 24), st.sampled_from(["email", "line"]),
                          st.sampled_from(["marketing", "transactional"])), max_size=60),
       st.integers(1, 4), st.integers(1, 10 * 24))
def test_caps_never_let_more_through_than_the_limit_in_any_window(
        attempts: list[tuple[int, str, str]], limit: int, window: int) -> None:
    cap = FrequencyCap(limit, timedelta(hours=window))  # whole hours: edges meet
    policy = ContactPolicy(caps=(cap,), quiet_hours=None)
    sent: list[SentMessage] = []
    for hour, channel, purpose in sorted(attempts):
        now = BASE + timedelta(hours=hour)
        verdict = decide(policy, contact(purpose, channel=channel), now, sent)
        counted = [m for m in sent if m.purpose == "marketing" and now - cap.per < m.at <= now]
        if purpose == "transactional" or len(counted) < limit:
            assert verdict == Send()
            sent.append(SentMessage(channel, purpose, now))
        else:
            assert isinstance(verdict, Cancel) and "frequency cap" in verdict.reason
    marketing = [m.at for m in sent if m.purpose == "marketing"]
    for at in marketing:  # the invariant, restated on what went out
        assert sum(1 for other in marketing if at - cap.per < other <= at) <= limit


@MANY
@given(st.sampled_from([None, True, False, "confirmed"]),
       st.sampled_from(["marketing", "transactional", "surveys"]),
       st.sampled_from([None, OptInLevel.CONFIRMED]), st.booleans(), instants)
def test_only_consent_and_a_clean_address_let_a_message_go(
        state: object, purpose: str, least: OptInLevel | None, suppressed: bool,
        now: datetime) -> None:
    consent = None if state is None else Consent(
        "c", "email", state is not False, BASE, purpose=purpose,
        level=None if state is False else OptInLevel(
            "confirmed" if state == "confirmed" else "single"))
    suppression = Suppression("email", "a@b.jp", SuppressionReason.BOUNCE, BASE) \
        if suppressed else None
    policy = ContactPolicy(caps=(), quiet_hours=None, min_level=least)
    verdict = decide(policy, contact(purpose, consent, suppression), now, [])
    allowed = not suppressed and (
        (state is None and purpose == "transactional")
        or (state is True and least is None) or state == "confirmed")
    assert (verdict == Send()) is allowed
    if not allowed:
        assert isinstance(verdict, Cancel)


def test_quiet_hours_defer_marketing_to_the_local_morning() -> None:
    policy = ContactPolicy()
    late = datetime(2026, 6, 1, 22, 30, tzinfo=TOKYO)
    assert decide(policy, contact(), late, []) == Defer(
        datetime(2026, 6, 2, 8, 0, tzinfo=TOKYO), "quiet hours in Asia/Tokyo")
    assert decide(policy, contact("transactional"), late, []) == Send()
    berlin = ZoneInfo("Europe/Berlin")
    assert decide(policy, contact(zone=berlin), late, []) == Send()  # 15:30 in Berlin


def test_caps_can_count_one_channel_or_several_purposes() -> None:
    line_only = FrequencyCap(1, timedelta(days=1), channels="line",
                             purposes=["marketing", "surveys"])
    policy = ContactPolicy(caps=(line_only,), quiet_hours=None)
    noon = datetime(2026, 6, 1, 12, tzinfo=TOKYO)
    sent = [SentMessage("line", "surveys", noon - timedelta(hours=3))]
    assert isinstance(decide(policy, contact(channel="line"), noon, sent), Cancel)
    assert decide(policy, contact(channel="email"), noon, sent) == Send()
    assert decide(policy, contact(channel="line"), noon + timedelta(hours=21), sent) == Send()


def test_the_customer_time_zone_attribute_wins() -> None:
    policy = ContactPolicy(timezone="Asia/Tokyo")
    assert policy.zone_of({"timezone": "Europe/Berlin"}).key == "Europe/Berlin"
    assert policy.zone_of({"timezone": "Mars/Olympus"}).key == "Asia/Tokyo"
    assert policy.zone_of({}).key == "Asia/Tokyo"


@pytest.mark.parametrize(("field", "build"), [
    ("limit", lambda: FrequencyCap(0, timedelta(days=1))),
    ("limit", lambda: FrequencyCap(True, timedelta(days=1))),
    ("per", lambda: FrequencyCap(1, timedelta(0))),
    ("purposes", lambda: FrequencyCap(1, timedelta(days=1), purposes=[])),
    ("end", lambda: QuietHours(time(8), time(8))),
    ("start", lambda: QuietHours("21:00", time(8))),
    ("timezone", lambda: ContactPolicy(timezone="Tokyo")),
])
def test_a_bad_policy_is_named(field: str, build: object) -> None:
    with pytest.raises(ValidationError) as error:
        build()  # type: ignore[operator]
    assert error.value.field == field
