"""Mining association rules from the shop's baskets, for ``crm.recommendations``.

``mine`` counts every basket of a model's window and stores the counts and the rules that
meet the thresholds; ``refresh`` brings a stored model up to date by adding the baskets
of new orders and taking away those of orders that were cancelled or left the window,
then recomputes the rules from the stored counts. Both run in one unit of work: a
failure leaves the model as it was.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain.association import (
    AssociationRule,
    FrequentItemsets,
    ItemsetCounter,
    MiningThresholds,
    association_rules,
    count_itemsets,
    frequent_itemsets,
)
from ecrm.domain.association_models import (
    AssociationModel,
    Basket,
    ItemCount,
    best_first,
    model_name,
)
from ecrm.domain.association_models import window_days as checked_window
from ecrm.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The model a shop gets when it names none.
DEFAULT_MODEL = "default"


_has_category = itemgetter(1)


class _Tally:
    """Counts baskets while remembering their order ids (``keep_ids``) and items'
    categories."""

    def __init__(self, max_length: int, *, keep_ids: bool = True) -> None:
        self.max_length = max_length
        self.keep_ids = keep_ids
        self.order_ids: list[str] = []
        self.categories: dict[str, str] = {}

    def count(self, baskets: Iterable[Basket]) -> ItemsetCounter:
        """Every itemset's count."""
        return count_itemsets(self.skus(baskets), self.max_length)

    def skus(self, baskets: Iterable[Basket]) -> Iterator[tuple[str, ...]]:
        """The baskets' SKUs, noting ids and categories on the way."""
        remember = self.order_ids.append if self.keep_ids else len
        categories = self.categories
        for basket in baskets:
            remember(basket.order_id)
            # The last category a line gives each SKU, in order id and line order.
            lines = zip(basket.skus, basket.categories, strict=True)
            categories.update(filter(_has_category, lines))
            yield basket.skus


class AssociationMining:
    """The mining half of ``crm.recommendations``."""

    _crm: CRM

    def mine(self, name: str = DEFAULT_MODEL, *, window_days: int | None = None,
             min_support: float = 0.001, min_confidence: float = 0.1,
             min_lift: float = 0.0, min_leverage: float = -1.0,
             min_conviction: float = 0.0, max_length: int = 2,
             incremental: bool = True) -> AssociationModel:
        """Count every basket (the distinct SKUs of an order that is not cancelled) placed
        in the last ``window_days`` days (None: all time) and store model ``name``: the
        count of every item, the rules that reach every minimum and, when
        ``incremental``, the count of every itemset of up to ``max_length`` items and the
        orders counted, which let :meth:`refresh` add and take away baskets instead of
        mining again. Replaces a stored model of that name.

        :raises ValidationError: a name that is not an identifier, a window that is not
            a positive number of days, ``min_support`` outside (0, 1],
            ``min_confidence`` outside [0, 1], ``min_leverage`` outside [-1, 1], a
            negative ``min_lift`` or ``min_conviction``, ``max_length`` outside 2..4, or
            an ``incremental`` that is not a bool. Nothing is stored then.
        """
        thresholds = MiningThresholds(min_support=min_support, min_confidence=min_confidence,
                                      min_lift=min_lift, min_leverage=min_leverage,
                                      min_conviction=min_conviction, max_length=max_length)
        if not isinstance(incremental, bool):
            raise ValidationError("incremental", "expected True or False")
        name, days, now = model_name(name), checked_window(window_days), self._crm.clock.now()
        settings = AssociationModel(name, thresholds, days, 0, 0, None, now, incremental)

        def work(uow: UnitOfWork) -> AssociationModel:
            stored = uow.recommendations.get_model(name, for_update=True)
            return _mine_into(uow, settings, now, replacing=stored is not None)

        return self._crm.transact(work)

    def refresh(self, name: str = DEFAULT_MODEL) -> AssociationModel:
        """Bring model ``name`` up to now: add the baskets of orders placed in its window
        that it has not counted, take away those of counted orders that were cancelled
        or fell out of the window, and recompute its rules from the stored counts. The
        result equals a fresh :meth:`mine` with the same settings.

        :raises NotFound: no model of that name.
        """
        name, now = model_name(name), self._crm.clock.now()

        def work(uow: UnitOfWork) -> AssociationModel:
            store = uow.recommendations
            model = store.get_model(name, for_update=True)
            if model is None:
                raise NotFound("association model", name)
            if not model.incremental:
                return _mine_into(uow, model, now, replacing=True)
            start = model.window_at(now)
            removed = _Tally(model.thresholds.max_length)
            taken = removed.count(list(store.stale_baskets(name, start)))
            added = _Tally(model.thresholds.max_length)
            given = added.count(list(store.pending_baskets(name, start, now)))
            items, itemsets = _changes(given, taken, added.categories)
            store.change_counts(name, items, itemsets, added.order_ids, removed.order_ids)
            baskets = model.baskets + given.baskets - taken.baskets
            counts = store.frequent_counts(
                name, _min_baskets(model.thresholds.min_support, baskets))
            rules = _rules_of(counts, baskets, model.thresholds)
            store.replace_rules(name, rules)
            model = attrs.evolve(model, baskets=baskets, rule_count=len(rules),
                                 window_start=start, refreshed_at=now)
            store.put_model(model)
            return model

        return self._crm.transact(work)

    def model(self, name: str = DEFAULT_MODEL) -> AssociationModel:
        """The stored model ``name``. :raises NotFound: there is none."""
        name = model_name(name)
        found = self._crm.transact(lambda uow: uow.recommendations.get_model(name),
                                   read_only=True)
        if found is None:
            raise NotFound("association model", name)
        return found

    def models(self) -> list[AssociationModel]:
        """Every stored model, by name."""
        return self._crm.transact(lambda uow: uow.recommendations.models(), read_only=True)

    def drop_model(self, name: str) -> None:
        """Forget model ``name`` and everything counted for it (nothing when absent)."""
        name = model_name(name)
        self._crm.transact(lambda uow: uow.recommendations.delete_model(name))

    def association_rules(self, name: str = DEFAULT_MODEL, *,
                          antecedent: Iterable[str] | None = None) -> list[AssociationRule]:
        """The stored rules of model ``name`` (only those whose antecedent is exactly the
        SKUs ``antecedent``, when given), by confidence, then lift, then count.

        :raises NotFound: no model of that name.
        """
        self.model(name)
        wanted = None if antecedent is None else tuple(sorted(set(antecedent)))

        def read(uow: UnitOfWork) -> list[AssociationRule]:
            store = uow.recommendations
            if wanted is None:
                return store.all_rules(name)
            return store.rules_for(name, [wanted])

        return best_first(self._crm.transact(read, read_only=True))


def _mine_into(uow: UnitOfWork, settings: AssociationModel, now: datetime, *,
               replacing: bool) -> AssociationModel:
    """Mine the model ``settings`` describes from the baskets of its window at ``now`` and
    store it, in place of its stored counts when ``replacing``."""
    store, thresholds = uow.recommendations, settings.thresholds
    start = settings.window_at(now)
    tally = _Tally(thresholds.max_length, keep_ids=settings.incremental)
    baskets = store.baskets(start, now)
    if settings.incremental:
        counter = tally.count(baskets)
        counts, total = counter.counts(), counter.baskets
        rules = _rules_of(counts, total, thresholds)
        singles = {key[0]: n for key, n in counts.items() if len(key) == 1}
        itemsets = {key: n for key, n in counts.items() if len(key) > 1}
    else:
        listed = list(tally.skus(baskets))
        singles, total = Counter(chain.from_iterable(map(set, listed))), len(listed)
        rules = best_first(association_rules(frequent_itemsets(listed, thresholds),
                                             thresholds))
        itemsets = {}
    model = attrs.evolve(settings, baskets=total, rule_count=len(rules), window_start=start,
                         refreshed_at=now)
    store.put_model(model)
    if replacing:
        store.clear_counts(settings.name)
    items = [ItemCount(sku, tally.categories.get(sku), n) for sku, n in singles.items()]
    store.add_counts(settings.name, items, itemsets, tally.order_ids)
    store.replace_rules(settings.name, rules)
    return model


def _min_baskets(min_support: float, baskets: int) -> int:
    """A floor below every frequent item's and itemset's count, to read fewer counts;
    :meth:`FrequentItemsets.from_counts` then applies mlxtend's exact tests (a single SKU
    passes on ``count / n >= min_support`` even where ``ceil(min_support * n)`` rounded
    up past its count)."""
    return max(1, math.floor(min_support * baskets) - 1)


def _rules_of(counts: Mapping[tuple[str, ...], int], baskets: int,
              thresholds: MiningThresholds) -> list[AssociationRule]:
    frequent = FrequentItemsets.from_counts(counts, baskets, thresholds.min_support)
    return best_first(association_rules(frequent, thresholds))


def _changes(added: ItemsetCounter, removed: ItemsetCounter, categories: dict[str, str]
             ) -> tuple[dict[str, tuple[int, str | None]], dict[tuple[str, ...], int]]:
    """The change of every item's and itemset's count: what was added less what was
    taken away, zero changes left out."""
    total = dict(added.counts())
    for key, n in removed.counts().items():
        total[key] = total.get(key, 0) - n
    items = {key[0]: (n, categories.get(key[0])) for key, n in total.items()
             if len(key) == 1 and (n or key[0] in categories)}
    itemsets = {key: n for key, n in total.items() if len(key) > 1 and n}
    return items, itemsets

