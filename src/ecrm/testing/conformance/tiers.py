"""Member tiers: upgrade at once, downgrade at period end, floors, merges."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ecrm.crm import CRM
from ecrm.domain.earning import TierMultiplier
from ecrm.domain.program import LoyaltyProgram
from ecrm.domain.tiers import ChangeReason, Tier, TierPolicy
from ecrm.errors import ValidationError
from ecrm.testing.conformance.base import ContractBase, line

JST = timezone(timedelta(hours=9))
TIERS = (Tier("silver", 10000), Tier("gold", 50000))


def tiered(crm: CRM, **policy: object) -> CRM:
    """The same backend and tenant with a programme that has tiers."""
    options = {"tiers": TIERS, "grace": timedelta(days=30), **policy}
    program = LoyaltyProgram(timezone="Asia/Tokyo", rules=[TierMultiplier({"gold": 2})],
                             tiers=TierPolicy(**options))  # type: ignore[arg-type]
    return CRM(crm.backend, tenant=crm.tenant, clock=crm.clock,
               plugins=crm.plugin_manager.get_plugins(), loyalty=program)


def buy(crm: CRM, customer_id: str, order_id: str, price: int) -> None:
    crm.orders.record(order_id=order_id, customer_id=customer_id, placed_at=crm.clock.now(),
                      lines=[line(price=str(price))], channel="web")


class TierContract(ContractBase):
    """What tiers do on every backend."""

    @pytest.fixture
    def shop(self, crm: CRM) -> CRM:
        return tiered(crm)

    def test_qualifying_upgrades_at_once_and_is_recorded(self, shop: CRM, recorder) -> None:
        alice = shop.customers.create(name="alice")
        buy(shop, alice.id, "A-1", 9000)
        assert shop.tiers.status(alice.id).tier is None
        buy(shop, alice.id, "A-2", 3000)
        status = shop.tiers.status(alice.id)
        assert (status.tier, status.since) == ("silver", shop.clock.now())
        assert status.valid_until == datetime(2027, 1, 1, tzinfo=JST)
        buy(shop, alice.id, "A-3", 40000)
        changes = shop.tiers.history(alice.id)
        assert [(c.from_tier, c.to_tier, c.reason, c.qualifying) for c in changes] == [
            (None, "silver", ChangeReason.QUALIFIED, Decimal(12000)),
            ("silver", "gold", ChangeReason.QUALIFIED, Decimal(52000))]
        assert [e[1]["change"] for e in recorder.events if e[0] == "tier_changed"] == changes

    def test_the_tier_multiplies_later_orders(self, shop: CRM) -> None:
        alice = shop.customers.create(name="alice")
        buy(shop, alice.id, "A-1", 50000)  # reaches gold with this order: earns x1
        buy(shop, alice.id, "A-2", 1000)
        assert [t.points for t in shop.loyalty.history(alice.id)] == [500, 20]

    def test_the_period_decides_the_next_tier_after_the_grace(self, shop: CRM) -> None:
        alice = shop.customers.create(name="alice")
        buy(shop, alice.id, "A-1", 60000)  # gold in 2026
        shop.clock.set(datetime(2027, 2, 15, tzinfo=JST))
        buy(shop, alice.id, "A-2", 12000)  # 2027: silver's worth
        assert shop.tiers.review_due() == []  # 2026 qualified gold for 2027
        assert shop.tiers.status(alice.id).valid_until == datetime(2028, 1, 1, tzinfo=JST)
        shop.clock.set(datetime(2028, 1, 30, tzinfo=JST))
        assert shop.tiers.review_due() == []  # inside the 30-day grace
        shop.clock.set(datetime(2028, 1, 31, tzinfo=JST))
        [change] = shop.tiers.review_due()
        assert (change.from_tier, change.to_tier, change.reason, change.qualifying) == (
            "gold", "silver", ChangeReason.PERIOD_END, Decimal(12000))
        assert shop.tiers.review_due() == []
        shop.clock.set(datetime(2029, 3, 1, tzinfo=JST))
        [dropped] = shop.tiers.review_due()
        assert (dropped.to_tier, shop.tiers.status(alice.id).tier) == (None, None)

    def test_a_floor_raises_at_once_and_stops_downgrades(self, shop: CRM) -> None:
        vip = shop.customers.create(name="vip")
        status = shop.tiers.set_floor(vip.id, "gold")
        assert (status.tier, status.floor) == ("gold", "gold")
        assert shop.tiers.history(vip.id)[0].reason is ChangeReason.FLOOR
        shop.clock.set(datetime(2027, 3, 1, tzinfo=JST))
        assert shop.tiers.review_due() == []
        shop.tiers.set_floor(vip.id, None)
        shop.clock.set(datetime(2028, 3, 1, tzinfo=JST))
        assert [c.to_tier for c in shop.tiers.review_due()] == [None]

    def test_points_over_a_rolling_window(self, crm: CRM) -> None:
        shop = tiered(crm, measure="points", period="rolling", rolling_days=90,
                      tiers=(Tier("silver", 100),), grace=timedelta(0))
        bob = shop.customers.create(name="bob")
        shop.loyalty.earn(bob.id, 60, key="e1")
        shop.clock.advance(days=10)
        shop.loyalty.earn(bob.id, 40, key="e2")
        status = shop.tiers.status(bob.id)
        assert (status.tier, status.valid_until) == ("silver", shop.clock.now()
                                                     + timedelta(days=90))
        shop.clock.advance(days=91)
        assert [c.to_tier for c in shop.tiers.review_due()] == [None]

    def test_a_merge_keeps_the_higher_tier(self, shop: CRM) -> None:
        keep = shop.customers.create(name="keep")
        drop = shop.customers.create(name="drop")
        buy(shop, keep.id, "K-1", 12000)
        buy(shop, drop.id, "D-1", 60000)
        shop.customers.merge(keep.id, drop.id)
        assert shop.tiers.status(keep.id).tier == "gold"
        assert shop.tiers.status(drop.id).tier == "gold"  # the old id answers for the survivor
        assert [c.reason for c in shop.tiers.history(keep.id)][-1] is ChangeReason.MERGE

    def test_without_a_policy(self, crm: CRM) -> None:
        alice = crm.customers.create(name="alice")
        assert crm.tiers.status(alice.id).tier is None
        for call in (lambda: crm.tiers.set_floor(alice.id, "gold"), crm.tiers.review_due):
            with pytest.raises(ValidationError, match="tiers"):
                call()

    def test_bad_tier_input_writes_nothing(self, shop: CRM) -> None:
        alice = shop.customers.create(name="alice")
        with pytest.raises(ValidationError) as error:
            shop.tiers.set_floor(alice.id, "platinum")
        assert error.value.field == "tier"
        with pytest.raises(ValidationError) as error:
            shop.tiers.set_floor("no-such-customer", "gold")
        assert error.value.field == "customer_id"
        assert shop.tiers.status(alice.id).floor is None
        assert shop.tiers.history(alice.id) == []

    def test_tier_only_coupons_follow_the_tier(self, shop: CRM) -> None:
        gold, plain = shop.customers.create(name="gold"), shop.customers.create(name="plain")
        buy(shop, gold.id, "G-1", 60000)
        shop.coupons.create(code="GOLD-ONLY", amount=500, tiers={"gold"})
        with pytest.raises(ValidationError) as error:
            shop.coupons.redeem("GOLD-ONLY", order_id="P-1", order_total=3000,
                                customer_id=plain.id)
        assert error.value.field == "customer_id"
        assert shop.coupons.redeem("GOLD-ONLY", order_id="G-2", order_total=3000,
                                   customer_id=gold.id).discount == 500
        assert shop.coupons.get("GOLD-ONLY").uses == 1
