"""Marketing consent on every backend: decisions, retries, out-of-order imports, merges,
failures and tenants."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrm.backends.base import Backend
from ecrm.crm import CRM
from ecrm.domain.consent import Consent, OptInLevel, precedence
from ecrm.domain.ids import new_id
from ecrm.errors import NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase
from ecrm.testing.conformance.units import Boom

#: (channel, granted, minutes after START, source): one call of grant or withdraw.
Call = tuple[str, bool, int, str | None]


def at(minutes: int) -> datetime:
    """``minutes`` after :data:`START` (before it, when negative)."""
    return START + timedelta(minutes=minutes)


def decide(crm: CRM, customer_id: str, call: Call) -> Consent:
    """Make one call of grant or withdraw."""
    channel, granted, minutes, source = call
    method = crm.consent.grant if granted else crm.consent.withdraw
    return method(customer_id, channel, source=source, at=at(minutes))


def consent_events(recorder: Any) -> list[tuple[str, bool, bool | None]]:
    """The ``ecrm_consent_changed`` notifications as (channel, granted, previous granted)."""
    return [(e["consent"].channel, e["consent"].granted,
             None if e["previous"] is None else e["previous"].granted)
            for name, e in recorder.events if name == "consent_changed"]


def state(crm: CRM, customer_id: str) -> dict[str, tuple[bool, datetime]]:
    """The customer's current states as channel -> (granted, changed_at)."""
    return {c.channel: (c.granted, c.changed_at) for c in crm.consent.for_customer(customer_id)}


class ConsentContract(ContractBase):
    """What ``crm.consent`` does on every backend."""

    def test_grants_and_withdrawals_come_back(self, crm: CRM, recorder) -> None:
        alice = crm.customers.create(name="alice")
        granted = crm.consent.grant(alice.id, "email", source=" signup form ")
        assert granted == Consent(alice.id, "email", True, crm.clock.now(), "signup form",
                                  level=OptInLevel.SINGLE)
        crm.consent.grant(alice.id, "sms", at=at(-60))
        assert crm.consent.get(alice.id, "email") == granted
        assert crm.consent.is_granted(alice.id, "email")
        crm.clock.advance(hours=1)  # type: ignore[attr-defined]
        withdrawn = crm.consent.withdraw(alice.id, "email", source="unsubscribe link")
        assert (withdrawn.granted, withdrawn.changed_at) == (False, crm.clock.now())
        assert not crm.consent.is_granted(alice.id, "email")
        assert [c.channel for c in crm.consent.for_customer(alice.id)] == ["email", "sms"]
        history = crm.consent.history(alice.id)
        assert [(c.channel, c.granted, c.source) for c in history] == [
            ("sms", True, None), ("email", True, "signup form"),
            ("email", False, "unsubscribe link")]
        assert history[-1].recorded_at == crm.clock.now()
        assert crm.consent.history(alice.id, "sms") == history[:1]
        assert consent_events(recorder) == [("email", True, None), ("sms", True, None),
                                            ("email", False, True)]

    def test_no_record_means_not_granted(self, crm: CRM) -> None:
        alice = crm.customers.create(name="alice")
        assert crm.consent.get(alice.id, "email") is None
        assert not crm.consent.is_granted(alice.id, "ads")
        assert crm.consent.for_customer(alice.id) == []
        assert crm.consent.history(alice.id) == []

    def test_a_retry_writes_nothing_and_a_later_repeat_renews(self, crm: CRM,
                                                              recorder) -> None:
        alice = crm.customers.create(name="alice")
        first = crm.consent.grant(alice.id, "email", source="signup form")
        assert crm.consent.grant(alice.id, "email", source="retry") == first
        assert len(crm.consent.history(alice.id)) == 1
        crm.clock.advance(days=30)  # type: ignore[attr-defined]
        renewed = crm.consent.grant(alice.id, "email", source="preference centre")
        assert (renewed.changed_at, renewed.source) == (crm.clock.now(), "preference centre")
        assert len(crm.consent.history(alice.id)) == 2
        assert consent_events(recorder) == [("email", True, None), ("email", True, True)]

    def test_out_of_order_decisions_converge(self, crm: CRM, recorder) -> None:
        alice = crm.customers.create(name="alice")
        late = crm.consent.withdraw(alice.id, "email", at=at(-10), source="import")
        assert crm.consent.grant(alice.id, "email", at=at(-20), source="import") == late
        assert crm.consent.grant(alice.id, "email", at=at(-20), source="import") == late
        assert [(c.granted, c.changed_at) for c in crm.consent.history(alice.id)] == [
            (True, at(-20)), (False, at(-10))]
        assert consent_events(recorder) == [("email", False, None)]
        assert crm.consent.grant(alice.id, "email", at=at(-5)).granted

    def test_at_the_same_instant_a_withdrawal_wins(self, crm: CRM) -> None:
        one, two = crm.customers.create(name="one"), crm.customers.create(name="two")
        crm.consent.grant(one.id, "sms", at=at(-1))
        crm.consent.withdraw(one.id, "sms", at=at(-1))
        crm.consent.withdraw(two.id, "sms", at=at(-1))
        crm.consent.grant(two.id, "sms", at=at(-1))
        assert state(crm, one.id) == state(crm, two.id) == {"sms": (False, at(-1))}
        assert len(crm.consent.history(one.id)) == len(crm.consent.history(two.id)) == 2

    def test_a_merge_keeps_the_winning_decision_per_channel(self, crm: CRM,
                                                            recorder) -> None:
        keep, dup = crm.customers.create(name="keep"), crm.customers.create(name="dup")
        for customer_id, calls in ((keep.id, [("email", True, -30, None),
                                              ("sms", False, -10, None),
                                              ("phone", True, -5, None)]),
                                   (dup.id, [("email", False, -20, None),
                                             ("sms", True, -40, None),
                                             ("phone", False, -5, None),
                                             ("line", True, -50, "LINE login")])):
            for call in calls:
                decide(crm, customer_id, call)
        recorder.events.clear()
        crm.customers.merge(keep.id, dup.id)
        assert state(crm, keep.id) == {"email": (False, at(-20)), "line": (True, at(-50)),
                                       "phone": (False, at(-5)), "sms": (False, at(-10))}
        line = crm.consent.get(keep.id, "line")
        assert line is not None and line.source == "LINE login"
        assert crm.consent.for_customer(dup.id) == crm.consent.for_customer(keep.id)
        assert len(crm.consent.history(keep.id)) == 7
        assert {c.customer_id for c in crm.consent.history(keep.id)} == {keep.id}
        assert sorted(consent_events(recorder)) == [
            ("email", False, True), ("line", True, None), ("phone", False, True)]
        with crm.backend.unit_of_work(crm.tenant, read_only=True) as uow:
            assert uow.consents.for_customer(dup.id) == []

    @pytest.mark.parametrize(("field", "arguments"), [
        ("channel", {"channel": "E-mail"}), ("channel", {"channel": ""}),
        ("channel", {"channel": "x" * 33}), ("channel", {"channel": None}),
        ("source", {"source": "s" * 201}), ("source", {"source": "\x00"}),
        ("source", {"source": 42}), ("at", {"at": START.replace(tzinfo=None)}),
        ("at", {"at": "2026-04-01"}), ("at", {"at": START + timedelta(hours=1)}),
    ])
    def test_bad_input_is_named_and_writes_nothing(self, crm: CRM, field: str,
                                                   arguments: dict[str, Any]) -> None:
        alice = crm.customers.create(name="alice")
        crm.consent.grant(alice.id, "email", at=at(-1))
        before = (crm.consent.for_customer(alice.id), crm.consent.history(alice.id))
        for method in (crm.consent.grant, crm.consent.withdraw):
            with pytest.raises(ValidationError) as error:
                method(alice.id, **{"channel": "email", **arguments})
            assert error.value.field == field
        assert (crm.consent.for_customer(alice.id), crm.consent.history(alice.id)) == before

    def test_an_unknown_customer_has_no_consent(self, crm: CRM) -> None:
        calls = [lambda: crm.consent.grant("nobody", "email"),
                 lambda: crm.consent.withdraw("nobody", "email"),
                 lambda: crm.consent.get("nobody", "email"),
                 lambda: crm.consent.is_granted("nobody", "email"),
                 lambda: crm.consent.for_customer("nobody"),
                 lambda: crm.consent.history("nobody")]
        for call in calls:
            with pytest.raises(NotFound):
                call()

    def test_a_failed_unit_leaves_no_consent(self, crm: CRM, backend: Backend) -> None:
        alice = crm.customers.create(name="alice")
        kept = crm.consent.grant(alice.id, "email", at=at(-1))
        history = crm.consent.history(alice.id)
        [change] = history
        with pytest.raises(Boom), backend.unit_of_work(crm.tenant) as uow:
            uow.consents.put(Consent(alice.id, "email", False, at(0)))
            uow.consents.put(Consent(alice.id, "ads", True, at(0)))
            uow.consents.add_change(attrs.evolve(change, id=new_id(), granted=False))
            uow.consents.delete_for_customer(alice.id)
            raise Boom
        assert crm.consent.for_customer(alice.id) == [kept]
        assert crm.consent.history(alice.id) == history

    def test_tenants_see_only_their_own_consent(self, crm: CRM, backend: Backend) -> None:
        neighbour = CRM(backend, tenant=f"{crm.tenant}-n", clock=crm.clock)
        mine, theirs = crm.customers.create(name="m"), neighbour.customers.create(name="t")
        crm.consent.grant(mine.id, "email")
        neighbour.consent.withdraw(theirs.id, "email")
        for call in (lambda: neighbour.consent.get(mine.id, "email"),
                     lambda: neighbour.consent.grant(mine.id, "email"),
                     lambda: crm.consent.history(theirs.id)):
            with pytest.raises(NotFound):
                call()
        with backend.unit_of_work(neighbour.tenant, read_only=True) as uow:
            assert uow.consents.granted_ids("email", None) == set()
            assert uow.consents.get(mine.id, "email", "marketing") is None
        assert crm.consent.is_granted(mine.id, "email")

    def test_granted_ids_lists_who_is_opted_in(self, crm: CRM, backend: Backend) -> None:
        report = crm.customers.import_many({"external_id": f"c{n}"} for n in range(510))
        assert report.inserted == 510
        ids = sorted(crm.customers.iterate(batch_size=1000), key=lambda c: str(c.external_id))
        with backend.unit_of_work(crm.tenant) as uow:
            for n, customer in enumerate(ids):
                uow.consents.put(Consent(customer.id, "email", n % 3 != 0, at(-n)))
                if n % 2:
                    uow.consents.put(Consent(customer.id, "sms", True, at(-n)))
        expected = {c.id for n, c in enumerate(ids) if n % 3}
        some = [c.id for c in ids[:20]] + ["nobody"]
        with backend.unit_of_work(crm.tenant, read_only=True) as uow:
            assert uow.consents.granted_ids("email", None) == expected
            assert uow.consents.granted_ids("email", [c.id for c in ids]) == expected
            assert uow.consents.granted_ids("email", some) == expected & set(some)
            assert uow.consents.granted_ids("email", []) == set()
            assert uow.consents.granted_ids("post", None) == set()
            assert len(uow.consents.granted_ids("sms", None)) == 255


class ConsentPropertyContract(ContractBase):
    """Any order of timed decisions ends in the same state on every backend."""

    # Each backend's test class runs this method: that is the point, not a flaw.
    @settings(suppress_health_check=[HealthCheck.differing_executors, HealthCheck.too_slow,
                                     HealthCheck.function_scoped_fixture])
    @given(calls=st.lists(st.tuples(st.sampled_from(["email", "sms"]), st.booleans(),
                                    st.integers(-4, 0), st.sampled_from([None, "import"])),
                          max_size=12))
    def test_any_order_converges_on_the_latest_decision(self, crm: CRM,
                                                        calls: list[Call]) -> None:
        customer = crm.customers.create()
        for call in calls:
            decide(crm, customer.id, call)
        decisions = {(channel, granted, at(minutes)) for channel, granted, minutes, _ in calls}
        latest: dict[str, tuple[bool, datetime]] = {}
        for channel, granted, when in decisions:
            best = latest.get(channel)
            if best is None or (when, not granted) > (best[1], not best[0]):
                latest[channel] = (granted, when)
        assert state(crm, customer.id) == latest
        history = crm.consent.history(customer.id)
        assert sorted((c.channel, c.granted, c.changed_at) for c in history) == sorted(
            decisions)
        assert [precedence(c)[0] for c in history] == sorted(precedence(c)[0] for c in history)
