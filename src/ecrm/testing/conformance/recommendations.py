"""Recommendations on every backend: hand-written rules, mined models and their refresh,
and the suggestions made to customers and for items, with their reasons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ecrm import hookimpl
from ecrm.crm import CRM
from ecrm.domain.association import MiningThresholds, mine_rules
from ecrm.domain.recommendations import ReasonKind, Suggestion
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import START, ContractBase, line, record

#: Five baskets (order id, SKUs, days after START) whose rules are written out below.
BASKETS = (("o1", ("PHONE", "CASE"), 0), ("o2", ("PHONE", "CASE", "FILM"), 1),
           ("o3", ("PHONE",), 2), ("o4", ("CASE", "CABLE"), 3),
           ("o5", ("PHONE", "CASE", "CABLE"), 4))
CATEGORY = {"PHONE": "phones", "CASE": "accessories", "FILM": "accessories",
            "CABLE": "accessories", "CHARGER": "accessories", "TABLET": "phones"}


def shop(crm: CRM, baskets: Any = BASKETS) -> dict[str, str]:
    """One customer per basket (named after the order), each with that order; the clock
    set a day after the last order."""
    ids = {}
    for order_id, skus, days in baskets:
        ids[order_id] = crm.customers.create(external_id=order_id).id
        record(crm, order_id, ids[order_id], days=days,
               lines=[line(sku, category=CATEGORY.get(sku)) for sku in skus])
    crm.clock.set(START + timedelta(days=10))  # type: ignore[attr-defined]
    return ids


def rule_rows(crm: CRM, name: str = "default") -> list[tuple[Any, ...]]:
    """The stored rules with every figure, for comparisons."""
    return [(r.antecedent, r.consequent, r.count, r.antecedent_count, r.consequent_count,
             r.baskets, r.confidence, r.lift, r.leverage, r.conviction)
            for r in crm.recommendations.association_rules(name)]


def expected_rows(baskets: Any, **thresholds: Any) -> list[tuple[Any, ...]]:
    """What the domain's miner (checked against mlxtend) finds in the baskets."""
    _, rules = mine_rules([skus for _, skus, _ in baskets], MiningThresholds(**thresholds))
    rows = [(r.antecedent, r.consequent, r.count, r.antecedent_count, r.consequent_count,
             r.baskets, r.confidence, r.lift, r.leverage, r.conviction) for r in rules]
    return sorted(rows, key=lambda r: (-r[6], -r[7], -r[2], r[0], r[1]))


class Stock:
    """A host plugin: says some SKUs are out of stock, re-ranks when asked, and adds a
    source of its own."""

    def __init__(self, out: set[str], rerank: bool = False) -> None:
        self.out = out
        self.rerank = rerank
        self.asked: list[tuple[str, ...]] = []
        self.reranked_for: list[str | None] = []

    @hookimpl
    def ecrm_unavailable_skus(self, crm: CRM, skus: tuple[str, ...]) -> list[str]:
        self.asked.append(skus)
        return [sku for sku in skus if sku in self.out]

    @hookimpl
    def ecrm_rerank_recommendations(self, crm: CRM, customer_id: str | None,
                                    suggestions: list[Suggestion]) -> Any:
        self.reranked_for.append(customer_id)
        return sorted(suggestions, key=lambda s: s.sku) if self.rerank else None


class RecommendationContract(ContractBase):
    """What ``crm.recommendations`` does on every backend."""

    # -- mining ------------------------------------------------------------------------

    def test_mined_rules_are_stored_with_every_figure(self, crm: CRM) -> None:
        shop(crm)
        model = crm.recommendations.mine(min_support=0.4, min_confidence=0.5)
        assert (model.baskets, model.rule_count) == (5, 4)  # P->C, C->P, C->Cb, Cb->C
        rows = rule_rows(crm)
        assert rows == expected_rows(BASKETS, min_support=0.4, min_confidence=0.5)
        # PHONE in 4 baskets, CASE in 4, both in 3: confidence 3/4, lift 0.75/0.8.
        phone_case = next(r for r in rows if r[:2] == (("PHONE",), ("CASE",)))
        assert phone_case[2:7] == (3, 4, 4, 5, 0.75)
        assert phone_case[7] == pytest.approx(0.9375)
        # CABLE -> CASE holds in every CABLE basket: confidence 1, conviction infinite.
        cable_case = next(r for r in rows if r[:2] == (("CABLE",), ("CASE",)))
        assert cable_case[6] == 1.0 and cable_case[9] == float("inf")
        assert crm.recommendations.association_rules(antecedent=["PHONE"]) == [
            r for r in crm.recommendations.association_rules() if r.antecedent == ("PHONE",)]

    def test_longer_itemsets_and_windows(self, crm: CRM) -> None:
        shop(crm)
        crm.recommendations.mine("triples", min_support=0.2, min_confidence=0.0,
                                 max_length=3)
        assert rule_rows(crm, "triples") == expected_rows(
            BASKETS, min_support=0.2, min_confidence=0.0, max_length=3)
        # Seven days back from day 10 reaches the orders of days 3 and 4 only.
        model = crm.recommendations.mine("recent", window_days=7, min_support=0.5,
                                         min_confidence=0.0)
        assert model.baskets == 2
        assert rule_rows(crm, "recent") == expected_rows(
            BASKETS[3:], min_support=0.5, min_confidence=0.0)

    def test_refresh_equals_a_fresh_mine(self, crm: CRM) -> None:
        ids = shop(crm)
        crm.recommendations.mine(window_days=8, min_support=0.2, min_confidence=0.3)
        record(crm, "o6", ids["o1"], days=10, lines=[line("TABLET", category="phones"),
                                                      line("CASE")])
        crm.orders.cancel("o2")
        crm.clock.advance(days=1)  # type: ignore[attr-defined]  # day 3 starts the window
        refreshed = crm.recommendations.refresh()
        fresh = crm.recommendations.mine("fresh", window_days=8, min_support=0.2,
                                         min_confidence=0.3)
        assert refreshed.baskets == fresh.baskets == 3  # o4, o5 and o6
        assert rule_rows(crm) == rule_rows(crm, "fresh")
        assert refreshed.rule_count == fresh.rule_count
        assert crm.recommendations.refresh() == crm.recommendations.model()
        # A model that keeps no counts is mined again by refresh, to the same rules.
        crm.recommendations.mine("lean", window_days=8, min_support=0.2,
                                 min_confidence=0.3, incremental=False)
        record(crm, "o7", ids["o1"], days=11, lines=[line("CASE"), line("CABLE")])
        lean = crm.recommendations.refresh("lean")
        again = crm.recommendations.mine("again", window_days=8, min_support=0.2,
                                         min_confidence=0.3)
        assert not lean.incremental and lean.baskets == again.baskets == 4
        assert rule_rows(crm, "lean") == rule_rows(crm, "again") != []

    def test_refresh_keeps_itemsets_that_pass_only_by_mlxtends_float_test(self, crm: CRM
                                                                          ) -> None:
        # 0.28 * 25 is 7.000000000000001: B in 7 of 25 baskets is frequent by
        # count / n >= 0.28, and so is {A, B}, the baskets being nested (mlxtend's rule).
        nested = [(f"n{i}", ("A", "B") if i < 7 else ("A",), 0) for i in range(25)]
        shop(crm, nested)
        mined = crm.recommendations.mine(min_support=0.28, min_confidence=0.0)
        assert mined.rule_count == 2
        rows = rule_rows(crm)
        assert rows == expected_rows(nested, min_support=0.28, min_confidence=0.0)
        assert crm.recommendations.refresh().rule_count == 2
        assert rule_rows(crm) == rows

    def test_models_are_listed_replaced_and_dropped(self, crm: CRM) -> None:
        shop(crm)
        crm.recommendations.mine(min_support=0.4)
        crm.recommendations.mine("other", min_support=0.9)
        assert [m.name for m in crm.recommendations.models()] == ["default", "other"]
        replaced = crm.recommendations.mine(min_support=0.9, min_confidence=0.9)
        assert crm.recommendations.model() == replaced
        assert rule_rows(crm) == []
        crm.recommendations.drop_model("other")
        with pytest.raises(NotFound):
            crm.recommendations.model("other")
        with pytest.raises(NotFound):
            crm.recommendations.refresh("other")

    def test_thresholds_outside_their_range_write_nothing(self, crm: CRM) -> None:
        shop(crm)
        for bad in ({"min_support": 0}, {"min_support": 1.5}, {"min_confidence": -0.1},
                    {"min_confidence": 2}, {"min_leverage": 1.5}, {"min_lift": -1},
                    {"max_length": 9}, {"window_days": 0}, {"min_support": float("nan")}):
            with pytest.raises(ValidationError) as caught:
                crm.recommendations.mine(**bad)
            assert caught.value.field == next(iter(bad))
        with pytest.raises(ValidationError):
            crm.recommendations.mine("Not A Name")
        assert crm.recommendations.models() == []

    def test_an_empty_shop_mines_an_empty_model(self, crm: CRM) -> None:
        model = crm.recommendations.mine()
        assert (model.baskets, model.rule_count) == (0, 0)
        customer = crm.customers.create(name="new")
        found = crm.recommendations.for_customer(customer.id)
        assert list(found) == []
        assert any("no purchases" in note for note in found.notes)

    # -- hand-written rules ------------------------------------------------------------

    def test_rules_are_kept_changed_and_removed(self, crm: CRM) -> None:
        shop(crm)
        rule = crm.recommendations.add_rule("film with phones", if_skus=["PHONE"],
                                            suggest_skus=["FILM"], priority=3)
        assert crm.recommendations.get_rule("film with phones") == rule
        changed = crm.recommendations.update_rule("film with phones", priority=7,
                                                  kind="upsell", when=["viewed", "bought"])
        assert (changed.priority, changed.kind.value) == (7, "upsell")
        assert crm.recommendations.rules() == [changed]
        with pytest.raises(ConflictError):
            crm.recommendations.add_rule("film with phones", if_skus=["CASE"],
                                         suggest_skus=["FILM"])
        crm.recommendations.remove_rule("film with phones")
        assert crm.recommendations.rules() == []
        with pytest.raises(NotFound):
            crm.recommendations.remove_rule("film with phones")

    def test_bad_rules_name_the_field_and_write_nothing(self, crm: CRM) -> None:
        shop(crm)
        cases = [({"if_skus": ["PHONE"], "suggest_skus": ["NOPE"]}, "suggest_skus"),
                 ({"if_skus": ["NOPE"], "suggest_skus": ["CASE"]}, "if_skus"),
                 ({"if_skus": ["PHONE"]}, "suggest_skus"),
                 ({"suggest_skus": ["CASE"]}, "if_skus"),
                 ({"if_skus": ["PHONE"], "suggest_skus": ["CASE"], "when": ["owned"]},
                  "when"),
                 ({"if_skus": "PHONE", "suggest_skus": ["CASE"]}, "if_skus"),
                 ({"if_skus": ["PHONE"], "suggest_skus": ["CASE"], "kind": "down"}, "kind"),
                 ({"if_skus": ["PHONE"], "suggest_skus": ["CASE"],
                   "valid_from": START, "valid_until": START}, "valid_until")]
        for arguments, field in cases:
            with pytest.raises(ValidationError) as caught:
                crm.recommendations.add_rule("bad", **arguments)
            assert caught.value.field == field
        with pytest.raises(NotFound):
            crm.recommendations.add_rule("bad", if_skus=["PHONE"], suggest_skus=["CASE"],
                                         segment="no such segment")
        assert crm.recommendations.rules() == []
        unsold = crm.recommendations.add_rule("new model", if_skus=["PHONE"],
                                              suggest_skus=["PHONE-2"], check_skus=False)
        assert unsold.suggest_skus == ("PHONE-2",)

    def test_rules_fire_by_priority_validity_and_segment(self, crm: CRM) -> None:
        ids = shop(crm)
        now = crm.clock.now()
        vip = crm.segments.create("vip", customer_ids=[ids["o3"]])
        crm.recommendations.add_rule("cables", if_categories=["phones"],
                                     suggest_skus=["CABLE"], priority=1)
        crm.recommendations.add_rule("films", if_skus=["PHONE"], suggest_skus=["FILM"],
                                     priority=5, segment="vip")
        crm.recommendations.add_rule("expired", if_skus=["PHONE"], suggest_skus=["CASE"],
                                     priority=9, valid_until=now)
        found = crm.recommendations.for_customer(ids["o3"], sources=["rules"])
        assert found.skus() == ["FILM", "CABLE"]
        assert found.items[0].why == "bought PHONE (rule 'films')"
        assert crm.recommendations.for_customer(ids["o1"], sources=["rules"]).skus() == [
            "CABLE"]
        crm.segments.remove(vip.id, [ids["o3"]])
        assert crm.recommendations.for_customer(ids["o3"], sources=["rules"]).skus() == [
            "CABLE"]

    # -- suggestions -------------------------------------------------------------------

    def test_suggestions_combine_sources_with_reasons(self, crm: CRM) -> None:
        ids = shop(crm)
        crm.recommendations.mine(min_support=0.2, min_confidence=0.3)
        buyer = ids["o3"]  # bought PHONE only
        crm.interactions.record(buyer, channel="web", kind="product_view", sku="CHARGER",
                                occurred_at=crm.clock.now() - timedelta(hours=2))
        found = crm.recommendations.for_customer(buyer, limit=5)
        # Mined (PHONE -> CASE), viewed, then the best sellers; PHONE itself is bought.
        assert found.skus() == ["CASE", "CHARGER", "CABLE", "FILM"]
        case = found.items[0]
        assert case.source == "associations"
        assert case.reasons[0].kind is ReasonKind.ASSOCIATION
        assert case.why.startswith("bought PHONE (confidence 0.75, lift 0.94)")
        assert found.items[1].why == "viewed CHARGER"
        assert found.items[2].why == "popular in the shop"
        kept = crm.recommendations.for_customer(buyer, exclude_purchased=False,
                                                sources=["popular"])
        assert kept.skus()[:2] == ["CASE", "PHONE"]
        assert kept.items[0].why == "popular in the shop"

    def test_cart_items_trigger_and_are_left_out(self, crm: CRM) -> None:
        ids = shop(crm)
        crm.recommendations.mine(min_support=0.2, min_confidence=0.3)
        buyer = ids["o4"]  # bought CASE and CABLE on day 3
        at = crm.clock.now() - timedelta(hours=1)
        crm.interactions.record(buyer, channel="web", kind="cart_add", sku="FILM",
                                occurred_at=at)
        crm.interactions.record(buyer, channel="web", kind="cart_add", sku="PHONE",
                                occurred_at=at)
        crm.interactions.record(buyer, channel="web", kind="cart_remove", sku="PHONE",
                                occurred_at=at + timedelta(minutes=1))
        found = crm.recommendations.for_customer(buyer, sources=["associations"])
        assert "FILM" not in found.skus()
        assert found.items[0].sku == "PHONE"
        assert found.items[0].reasons[0].because == ("FILM",)
        assert found.items[0].why.startswith("has in the cart FILM")

    def test_the_host_removes_unavailable_items_and_may_rerank(self, backend: Any,
                                                               tenant: str, clock: Any) -> None:
        stock = Stock({"CASE"})
        crm = CRM(backend, tenant=tenant, clock=clock, plugins=[stock])
        ids = shop(crm)
        crm.recommendations.mine(min_support=0.2, min_confidence=0.3)
        found = crm.recommendations.for_customer(ids["o3"], limit=3)
        assert "CASE" not in found.skus() and "CASE" in stock.asked[0]
        assert any("unavailable" in note for note in found.notes)
        stock.rerank = True
        reranked = crm.recommendations.for_customer(ids["o3"], limit=3)
        assert reranked.skus() == sorted(reranked.skus())
        assert stock.reranked_for[-1] == ids["o3"]
        crm.recommendations.for_items(["PHONE"])
        assert stock.reranked_for[-1] is None

    def test_plugin_sources_take_their_place(self, backend: Any, tenant: str,
                                             clock: Any) -> None:
        from ecrm.domain.recommendations import Reason

        class Editors:
            name = "editors"

            def suggest(self, crm: CRM, request: Any) -> list[Suggestion]:
                reason = Reason(ReasonKind.PLUGIN, detail="editor's pick")
                return [Suggestion("TABLET", "editors", 1.0, (reason,))]

        class Plugin:
            @hookimpl
            def ecrm_recommendation_sources(self, crm: CRM) -> list[Any]:
                return [Editors()]

        crm = CRM(backend, tenant=tenant, clock=clock, plugins=[Plugin()])
        ids = shop(crm)
        found = crm.recommendations.for_customer(ids["o3"], sources=["editors", "rules"])
        assert [(s.sku, s.why) for s in found] == [("TABLET", "editor's pick")]
        with pytest.raises(ValidationError) as caught:
            crm.recommendations.for_customer(ids["o3"], sources=["nope"])
        assert caught.value.field == "sources"

    def test_items_get_suggestions_and_unknown_items_an_error(self, crm: CRM) -> None:
        shop(crm)
        crm.recommendations.mine(min_support=0.2, min_confidence=0.3)
        found = crm.recommendations.for_items(["CABLE"], sources=["associations"])
        assert found.skus() == ["CASE", "PHONE"]
        assert found.items[0].why.startswith("has in the cart CABLE (confidence 1.00")
        with pytest.raises(ValidationError) as caught:
            crm.recommendations.for_items(["CABLE", "NOPE"])
        assert caught.value.field == "skus" and "NOPE" in str(caught.value)
        with pytest.raises(ValidationError):
            crm.recommendations.for_items([])

    def test_without_a_model_the_notes_say_why(self, crm: CRM) -> None:
        ids = shop(crm)
        found = crm.recommendations.for_customer(ids["o1"])
        assert list(found) == []
        assert any("no mined model 'default'" in note for note in found.notes)
        with pytest.raises(NotFound):
            crm.recommendations.for_customer("no-such-customer")
        with pytest.raises(ValidationError) as caught:
            crm.recommendations.for_customer(ids["o1"], limit=0)
        assert caught.value.field == "limit"
        with pytest.raises(ValidationError) as caught:
            crm.recommendations.for_customer(ids["o1"], exclude="CASE")  # not a list
        assert caught.value.field == "exclude"
