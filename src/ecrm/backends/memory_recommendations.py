"""The memory backend's recommendations: rules in a journaled table, and per model one
immutable snapshot of its counts that each write replaces (so a rollback restores it)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from ecrm.domain.association import AssociationRule
from ecrm.domain.association_models import (
    AssociationModel,
    Basket,
    ItemCount,
    changed_item,
)
from ecrm.domain.orders import Order, OrderStatus
from ecrm.domain.recommendations import (
    ACTIVITY_KINDS,
    Activity,
    ItemEvent,
    RecommendationRule,
    build_activity,
)

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData


@attrs.frozen
class _Counts:
    """Everything counted for one model."""

    items: Mapping[str, ItemCount] = attrs.field(factory=dict)
    itemsets: Mapping[tuple[str, ...], int] = attrs.field(factory=dict)
    orders: frozenset[str] = frozenset()
    rules: Mapping[tuple[str, ...], tuple[AssociationRule, ...]] = attrs.field(factory=dict)


def as_basket(order: Order) -> Basket:
    """The basket of an order: the SKU and category of each line."""
    return Basket(order.order_id, tuple(line.sku for line in order.lines),
                  tuple(line.category for line in order.lines))


def _counted(order: Order, start: datetime | None, end: datetime) -> bool:
    return (order.status is not OrderStatus.CANCELLED and order.placed_at <= end
            and (start is None or order.placed_at >= start))


class MemoryRecommendationRepository:
    """Rules by id (names unique); models and their counts by model name."""

    def __init__(self, data: _TenantData) -> None:
        self._data = data
        self._rules = data.recommendation_rules
        self._models = data.association_models
        self._counts = data.association_counts

    # -- hand-written rules ------------------------------------------------------------

    def add_rule(self, rule: RecommendationRule) -> None:
        self._rules.insert(rule.id, rule)

    def get_rule(self, rule_id: str) -> RecommendationRule | None:
        return self._rules.rows.get(rule_id)  # type: ignore[no-any-return]

    def rule_by_name(self, name: str) -> RecommendationRule | None:
        return self._rules.lookup("name", name)  # type: ignore[no-any-return]

    def rules(self) -> list[RecommendationRule]:
        return sorted(self._rules.rows.values(), key=lambda rule: rule.name)

    def replace_rule(self, rule: RecommendationRule) -> None:
        self._rules.update(rule.id, rule)

    def delete_rule(self, rule_id: str) -> None:
        if rule_id in self._rules.rows:
            self._rules.delete(rule_id)

    # -- what customers did --------------------------------------------------------------

    def activity(self, customer_id: str, *, since: datetime, limit: int) -> Activity:
        orders = sorted((o for o in self._data.orders.rows.values()
                         if o.customer_id == customer_id
                         and o.status is not OrderStatus.CANCELLED),
                        key=lambda o: (o.placed_at, o.order_id), reverse=True)
        bought = [(line.sku, line.category) for order in orders for line in order.lines]
        events = sorted((i for i in self._data.interactions.rows.values()
                         if i.customer_id == customer_id and i.kind in ACTIVITY_KINDS
                         and i.sku is not None and i.occurred_at >= since),
                        key=lambda i: (i.occurred_at, i.id), reverse=True)[:limit]
        return build_activity(bought, [ItemEvent(i.kind, i.sku, i.occurred_at) for i in events],
                              orders[0].placed_at if orders else None)

    def known_skus(self, skus: Collection[str]) -> set[str]:
        wanted = set(skus)
        found = {line.sku for order in self._data.orders.rows.values()
                 for line in order.lines if line.sku in wanted}
        found |= {i.sku for i in self._data.interactions.rows.values() if i.sku in wanted}
        return found

    def baskets(self, start: datetime | None, end: datetime) -> Iterator[Basket]:
        for order_id in sorted(self._data.orders.rows):
            order = self._data.orders.rows[order_id]
            if _counted(order, start, end):
                yield as_basket(order)

    # -- models --------------------------------------------------------------------------

    def get_model(self, name: str, *, for_update: bool = False) -> AssociationModel | None:
        return self._models.rows.get(name)  # type: ignore[no-any-return]

    def models(self) -> list[AssociationModel]:
        return sorted(self._models.rows.values(), key=lambda model: model.name)

    def put_model(self, model: AssociationModel) -> None:
        if model.name in self._models.rows:
            self._models.update(model.name, model)
        else:
            self._models.insert(model.name, model)
            self._counts.insert(model.name, _Counts())

    def delete_model(self, name: str) -> None:
        if name in self._models.rows:
            self._models.delete(name)
            self._counts.delete(name)

    def clear_counts(self, name: str) -> None:
        self._counts.update(name, _Counts())

    def add_counts(self, name: str, items: Iterable[ItemCount],
                   itemsets: Mapping[tuple[str, ...], int], order_ids: Iterable[str]) -> None:
        counts = self._counts.rows[name]
        self._counts.update(name, attrs.evolve(
            counts, items={**counts.items, **{item.sku: item for item in items}},
            itemsets={**counts.itemsets, **itemsets},
            orders=counts.orders | frozenset(order_ids)))

    def change_counts(self, name: str, items: Mapping[str, tuple[int, str | None]],
                      itemsets: Mapping[tuple[str, ...], int], added: Collection[str],
                      removed: Collection[str]) -> None:
        counts = self._counts.rows[name]
        new_items = dict(counts.items)
        for sku, (change, category) in items.items():
            item = changed_item(sku, new_items.get(sku), change, category)
            if item.baskets:
                new_items[sku] = item
            else:
                new_items.pop(sku, None)
        new_itemsets = dict(counts.itemsets)
        for itemset, change in itemsets.items():
            total = new_itemsets.get(itemset, 0) + change
            if total:
                new_itemsets[itemset] = total
            else:
                new_itemsets.pop(itemset, None)
        orders = (counts.orders | frozenset(added)) - frozenset(removed)
        self._counts.update(name, attrs.evolve(counts, items=new_items,
                                               itemsets=new_itemsets, orders=orders))

    def frequent_counts(self, name: str, min_baskets: int) -> dict[tuple[str, ...], int]:
        counts = self._counts.rows[name]
        found = {(sku,): item.baskets for sku, item in counts.items.items()
                 if item.baskets >= min_baskets}
        found.update((itemset, count) for itemset, count in counts.itemsets.items()
                     if count >= min_baskets)
        return found

    def pending_baskets(self, name: str, start: datetime | None,
                        end: datetime) -> Iterator[Basket]:
        counted = self._counts.rows[name].orders
        for basket in self.baskets(start, end):
            if basket.order_id not in counted:
                yield basket

    def stale_baskets(self, name: str, start: datetime | None) -> Iterator[Basket]:
        for order_id in sorted(self._counts.rows[name].orders):
            order = self._data.orders.rows[order_id]
            if order.status is OrderStatus.CANCELLED or (start is not None
                                                         and order.placed_at < start):
                yield as_basket(order)

    def replace_rules(self, name: str, rules: Iterable[AssociationRule]) -> None:
        by_antecedent: dict[tuple[str, ...], list[AssociationRule]] = {}
        for rule in rules:
            by_antecedent.setdefault(rule.antecedent, []).append(rule)
        self._counts.update(name, attrs.evolve(
            self._counts.rows[name],
            rules={key: tuple(found) for key, found in by_antecedent.items()}))

    def rules_for(self, name: str, antecedents: Collection[tuple[str, ...]],
                  best: int | None = None) -> list[AssociationRule]:
        stored = self._counts.rows[name].rules
        return [rule for key in set(antecedents) for rule in stored.get(key, ())[:best]]

    def all_rules(self, name: str) -> list[AssociationRule]:
        return [rule for found in self._counts.rows[name].rules.values() for rule in found]

    def items(self, name: str, skus: Collection[str]) -> dict[str, ItemCount]:
        counts = self._counts.rows.get(name)
        stored = counts.items if counts is not None else {}
        return {sku: stored[sku] for sku in set(skus) if sku in stored}

    def popular(self, name: str, category: str | None, limit: int) -> list[ItemCount]:
        stored = self._counts.rows[name].items.values()
        chosen = [item for item in stored if category is None or item.category == category]
        return sorted(chosen, key=lambda item: (-item.baskets, item.sku))[:limit]
