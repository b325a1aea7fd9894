"""Referrals: codes, the guards, and one reward on the referee's first order."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ecrm.crm import CRM
from ecrm.domain.program import LoyaltyProgram
from ecrm.domain.referrals import ReferralReward
from ecrm.errors import ConflictError, ValidationError
from ecrm.testing.conformance.base import ContractBase, line, record


def referring(crm: CRM) -> CRM:
    """The same tenant with a programme rewarding referrals: 500 to the referrer, 300 to
    the new customer, pending for the 14-day return window."""
    program = LoyaltyProgram(return_window=timedelta(days=14), referral=ReferralReward(
        referrer_points=500, referee_points=300))
    return CRM(crm.backend, tenant=crm.tenant, clock=crm.clock,
               plugins=crm.plugin_manager.get_plugins(), loyalty=program)


def referral_points(crm: CRM, customer_id: str) -> list[int]:
    return [t.points for t in crm.loyalty.history(customer_id) if t.reason == "referral"]


class ReferralContract(ContractBase):
    """What referrals do on every backend."""

    @pytest.fixture
    def referring_shop(self, crm: CRM) -> CRM:
        return referring(crm)

    def test_a_customers_code_is_stable_and_their_own(self, referring_shop: CRM) -> None:
        shop = referring_shop
        alice, bob = shop.customers.create(name="alice"), shop.customers.create(name="bob")
        code = shop.referrals.code_for(alice.id)
        assert code.startswith("R-") and shop.referrals.code_for(alice.id) == code
        assert shop.referrals.code_for(bob.id) != code

    def test_the_first_order_rewards_both_once(self, referring_shop: CRM, recorder) -> None:
        shop = referring_shop
        alice, bob = shop.customers.create(name="alice"), shop.customers.create(name="bob")
        code = shop.referrals.code_for(alice.id)
        referral = shop.referrals.refer(bob.id, code=code.lower())
        assert shop.referrals.refer(bob.id, code=code) == referral  # a replay
        record(shop, "B-1", bob.id)
        record(shop, "B-1", bob.id)  # an order replay rewards nothing more
        record(shop, "B-2", bob.id, days=3)
        assert referral_points(shop, alice.id) == [500]
        assert referral_points(shop, bob.id) == [300]
        assert shop.loyalty.balance(alice.id).pending == 500
        done = shop.referrals.of(bob.id)
        assert (done.order_id, done.rewarded_at) == ("B-1", shop.clock.now())
        assert shop.referrals.made_by(alice.id) == [done]
        assert [e[1]["referral"] for e in recorder.events
                if e[0] == "referral_rewarded"] == [done]

    def test_guards(self, referring_shop: CRM) -> None:
        shop = referring_shop
        alice, bob = shop.customers.create(name="alice"), shop.customers.create(name="bob")
        carol = shop.customers.create(name="carol")
        alice_code, carol_code = shop.referrals.code_for(alice.id), shop.referrals.code_for(
            carol.id)
        cases = [(alice.id, alice_code, "code"), (bob.id, "R-NOSUCH", "code"),
                 ("no-such-customer", alice_code, "referee_id")]
        for referee, code, field in cases:
            with pytest.raises(ValidationError) as error:
                shop.referrals.refer(referee, code=code)
            assert error.value.field == field
        shop.referrals.refer(bob.id, code=alice_code)
        with pytest.raises(ConflictError):
            shop.referrals.refer(bob.id, code=carol_code)
        record(shop, "C-1", carol.id)
        with pytest.raises(ValidationError) as error:
            shop.referrals.refer(carol.id, code=alice_code)
        assert error.value.field == "referee_id"
        assert shop.referrals.of(carol.id) is None

    def test_a_merge_into_the_referrer_closes_the_referral_without_points(
            self, referring_shop: CRM) -> None:
        shop = referring_shop
        alice, bob = shop.customers.create(name="alice"), shop.customers.create(name="bob")
        shop.referrals.refer(bob.id, code=shop.referrals.code_for(alice.id))
        shop.customers.merge(alice.id, bob.id)
        shop.orders.record(order_id="M-1", customer_id=alice.id, placed_at=shop.clock.now(),
                           lines=[line()], channel="web")
        assert referral_points(shop, alice.id) == []
        assert shop.referrals.of(alice.id).rewarded_at is not None

    def test_without_a_reward_referrals_are_recorded_only(self, crm: CRM) -> None:
        alice, bob = crm.customers.create(name="alice"), crm.customers.create(name="bob")
        crm.referrals.refer(bob.id, code=crm.referrals.code_for(alice.id))
        record(crm, "B-1", bob.id)
        assert crm.loyalty.history(alice.id) == [] and crm.referrals.of(bob.id).rewarded_at is None
