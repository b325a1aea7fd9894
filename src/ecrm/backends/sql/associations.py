"""SQL storage of mined association models: settings in ``ecrm_association_models``, and
per model its items, itemset counts, rules and counted orders; and the baskets read from
the orders."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    delete,
    exists,
    or_,
    select,
    update,
)

from ecrm.backends.sql import driver, tables
from ecrm.backends.sql.repositories import (
    IN_CHUNK,
    TENANT,
    _insert_many,
    _TenantScoped,
    tenant_of,
)
from ecrm.batching import chunks
from ecrm.domain.association import AssociationRule, MiningThresholds
from ecrm.domain.association_models import (
    AssociationModel,
    Basket,
    ItemCount,
    changed_item,
    itemset_from_key,
    itemset_key,
)
from ecrm.domain.orders import OrderStatus

_m = tables.association_models
_items = tables.association_items
_sets = tables.association_itemsets
_rules = tables.association_rules
_counted = tables.association_orders
_o = tables.orders
_l = tables.order_lines

#: Rows fetched per round trip while streaming baskets.
STREAM_ROWS = 10_000
#: Rows per executemany when storing counts.
WRITE_ROWS = 20_000
#: A model's child tables, children first.
_CHILDREN = (_counted, _rules, _sets, _items)


class SQLAssociationStore(_TenantScoped):
    """The association models of one tenant."""

    # -- baskets -------------------------------------------------------------------------

    def baskets(self, start: datetime | None, end: datetime) -> Iterator[Basket]:
        return self._baskets(_IN_WINDOW[start is not None, False],
                             {"start": start, "end": end})

    def pending_baskets(self, name: str, start: datetime | None,
                        end: datetime) -> Iterator[Basket]:
        return self._baskets(_IN_WINDOW[start is not None, True],
                             {"start": start, "end": end, "model": name})

    def stale_baskets(self, name: str, start: datetime | None) -> Iterator[Basket]:
        return self._baskets(_STALE[start is not None], {"start": start, "model": name})

    def _baskets(self, statement: Select[Any], params: dict[str, Any]) -> Iterator[Basket]:
        """Group the (order id, SKU, category) rows of ``statement``, streamed in order id
        order, into baskets; on the driver when allowed (a million baskets read about
        twice as fast)."""
        bound = {TENANT: self._tenant, **{k: v for k, v in params.items() if v is not None}}
        if self._direct:
            rows: Iterable[Any] = driver.stream(self._conn, statement, bound, STREAM_ROWS)
        else:
            rows = self._conn.execute(statement.execution_options(yield_per=STREAM_ROWS),
                                      bound)
        second, third = itemgetter(1), itemgetter(2)
        for order_id, lines in groupby(rows, itemgetter(0)):
            group = list(lines)
            yield Basket(order_id, tuple(map(second, group)), tuple(map(third, group)))

    # -- models --------------------------------------------------------------------------

    def get_model(self, name: str, *, for_update: bool = False) -> AssociationModel | None:
        if not for_update:  # every suggestion reads it: a statement built once
            rows = self._rows(_MODEL, name=name)
            return _model_from_row(dict(zip(_m.c.keys(), rows[0], strict=True))) \
                if rows else None
        query = select(_m).where(self._mine(_m), _m.c.name == name).with_for_update()
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _model_from_row(row)

    def models(self) -> list[AssociationModel]:
        query = select(_m).where(self._mine(_m))
        found = [_model_from_row(row) for row in self._conn.execute(query).mappings()]
        return sorted(found, key=lambda model: model.name)

    def put_model(self, model: AssociationModel) -> None:
        self._upsert(_m, {"name": model.name}, _model_params(model))

    def delete_model(self, name: str) -> None:
        self.clear_counts(name)
        self._conn.execute(delete(_m).where(self._mine(_m), _m.c.name == name))

    def clear_counts(self, name: str) -> None:
        for table in _CHILDREN:
            self._conn.execute(delete(table).where(self._mine(table), table.c.model == name))

    def add_counts(self, name: str, items: Iterable[ItemCount],
                   itemsets: Mapping[tuple[str, ...], int], order_ids: Iterable[str]) -> None:
        mine = {"tenant_id": self._tenant, "model": name}
        self._insert(_items, ({**mine, "sku": item.sku, "category": item.category,
                               "baskets": item.baskets} for item in items))
        self._insert(_sets, ({**mine, "itemset": itemset_key(itemset), "baskets": count}
                             for itemset, count in itemsets.items()))
        self._insert(_counted, ({**mine, "order_id": order_id} for order_id in order_ids))

    def _insert(self, table: Any, rows: Iterable[dict[str, Any]]) -> None:
        for part in chunks(rows, WRITE_ROWS):
            _insert_many(self._conn, table, part)

    def change_counts(self, name: str, items: Mapping[str, tuple[int, str | None]],
                      itemsets: Mapping[tuple[str, ...], int], added: Collection[str],
                      removed: Collection[str]) -> None:
        stored = self.items(name, items)
        changed = [(changed_item(sku, stored.get(sku), change, category), sku in stored)
                   for sku, (change, category) in items.items()]
        self._write_totals(_items, _items.c.sku, name, [
            (item.sku, was_stored, item.baskets, {"category": item.category})
            for item, was_stored in changed])
        keys = {itemset_key(itemset): change for itemset, change in itemsets.items()}
        old_sets = self._itemset_counts(name, keys)
        self._write_totals(_sets, _sets.c.itemset, name, [
            (key, key in old_sets, old_sets.get(key, 0) + change, {})
            for key, change in keys.items()])
        mine = {"tenant_id": self._tenant, "model": name}
        self._insert(_counted, ({**mine, "order_id": order_id} for order_id in added))
        for part in chunks(sorted(removed), IN_CHUNK):
            self._conn.execute(delete(_counted).where(
                self._mine(_counted), _counted.c.model == name,
                _counted.c.order_id.in_(part)))

    def _write_totals(self, table: Any, column: Any, name: str,
                      rows: list[tuple[str, bool, int, dict[str, Any]]]) -> None:
        """Give model ``name``'s count rows of ``table`` (keyed by ``column``) their new
        totals: each row is (key, stored already, total, other values). Rows at 0 are
        deleted, stored ones updated in one executemany, new ones inserted in bulk."""
        gone = sorted(key for key, stored, total, _ in rows if stored and not total)
        for part in chunks(gone, IN_CHUNK):
            self._conn.execute(delete(table).where(self._mine(table), table.c.model == name,
                                                   column.in_(part)))
        kept = [{"count_key": key, "new_baskets": total,
                 **{f"new_{k}": v for k, v in values.items()}}
                for key, stored, total, values in rows if stored and total]
        if kept:
            others = {k: bindparam(f"new_{k}") for k in rows[0][3]}
            self._conn.execute(
                update(table).where(self._mine(table), table.c.model == name,
                                    column == bindparam("count_key"))
                .values(baskets=bindparam("new_baskets"), **others), kept)
        self._insert(table, ({"tenant_id": self._tenant, "model": name, column.name: key,
                              "baskets": total, **values}
                             for key, stored, total, values in rows if total and not stored))

    def _itemset_counts(self, name: str, keys: Collection[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(sorted(keys), IN_CHUNK):
            query = select(_sets.c.itemset, _sets.c.baskets).where(
                self._mine(_sets), _sets.c.model == name, _sets.c.itemset.in_(part))
            found.update((key, count) for key, count in self._conn.execute(query))
        return found

    def frequent_counts(self, name: str, min_baskets: int) -> dict[tuple[str, ...], int]:
        query = select(_items.c.sku, _items.c.baskets).where(
            self._mine(_items), _items.c.model == name, _items.c.baskets >= min_baskets)
        found = {(sku,): count for sku, count in self._conn.execute(query)}
        query = select(_sets.c.itemset, _sets.c.baskets).where(
            self._mine(_sets), _sets.c.model == name, _sets.c.baskets >= min_baskets)
        found.update((itemset_from_key(key), count) for key, count in self._conn.execute(query))
        return found

    # -- rules and items -------------------------------------------------------------------

    def replace_rules(self, name: str, rules: Iterable[AssociationRule]) -> None:
        self._conn.execute(delete(_rules).where(self._mine(_rules), _rules.c.model == name))
        self._insert(_rules, ({"tenant_id": self._tenant, "model": name,
                               "antecedent": key, "position": position,
                               "consequent": itemset_key(rule.consequent),
                               "antecedent_count": rule.antecedent_count,
                               "consequent_count": rule.consequent_count,
                               "both_count": rule.count}
                              for key, position, rule in ranked(rules)))

    def rules_for(self, name: str, antecedents: Collection[tuple[str, ...]],
                  best: int | None = None) -> list[AssociationRule]:
        found: list[AssociationRule] = []
        keys = sorted({itemset_key(antecedent) for antecedent in antecedents})
        ranks = [] if best is None else [_rules.c.position < best]
        for part in chunks(keys, IN_CHUNK):
            found.extend(self._stored_rules(name, _rules.c.antecedent.in_(part), *ranks))
        return found

    def all_rules(self, name: str) -> list[AssociationRule]:
        return self._stored_rules(name)

    def _stored_rules(self, name: str, *conditions: Any) -> list[AssociationRule]:
        r = _rules.c
        query = (select(r.antecedent, r.consequent, r.antecedent_count, r.consequent_count,
                        r.both_count, _m.c.baskets)
                 .join(_m, and_(_m.c.tenant_id == r.tenant_id, _m.c.name == r.model))
                 .where(self._mine(_rules), r.model == name, *conditions))
        return [AssociationRule(itemset_from_key(antecedent), itemset_from_key(consequent),
                                *counts)
                for antecedent, consequent, *counts in self._conn.execute(query)]

    def items(self, name: str, skus: Collection[str]) -> dict[str, ItemCount]:
        found: dict[str, ItemCount] = {}
        for part in chunks(sorted(set(skus)), IN_CHUNK):
            query = select(_items.c.sku, _items.c.category, _items.c.baskets).where(
                self._mine(_items), _items.c.model == name, _items.c.sku.in_(part))
            found.update((row[0], ItemCount(*row)) for row in self._conn.execute(query))
        return found

    def popular(self, name: str, category: str | None, limit: int) -> list[ItemCount]:
        if category is None:
            rows = self._rows(_POPULAR[False], model=name, limit=limit)
        else:
            rows = self._rows(_POPULAR[True], model=name, category=category, limit=limit)
        return [ItemCount(*row) for row in rows]


def ranked(rules: Iterable[AssociationRule]) -> Iterator[tuple[str, int, AssociationRule]]:
    """Each rule with its antecedent's key and its rank among that antecedent's rules, in
    the order given."""
    positions: dict[str, int] = {}
    for rule in rules:
        key = itemset_key(rule.antecedent)
        positions[key] = positions.get(key, -1) + 1
        yield key, positions[key], rule


def _basket_lines() -> Select[Any]:
    """(order id, SKU, category) of every line of the tenant's orders, by order id."""
    return (select(_l.c.order_id, _l.c.sku, _l.c.category)
            .select_from(_l.join(_o, and_(_l.c.tenant_id == _o.c.tenant_id,
                                          _l.c.order_id == _o.c.order_id)))
            .where(tenant_of(_o))
            .order_by(_l.c.order_id, _l.c.line_no))


def _in_window(with_start: bool, pending: bool) -> Select[Any]:
    """The lines of counted orders placed by ``end`` (and from ``start``); with
    ``pending``, only of orders model ``model`` has not counted."""
    window = [_o.c.status != OrderStatus.CANCELLED.value, _o.c.placed_at <= bindparam("end")]
    if with_start:
        window.append(_o.c.placed_at >= bindparam("start"))
    if not pending:  # every basket: one pass over the lines, each order found by key
        return _basket_lines().where(*window)
    uncounted = ~exists().where(_counted.c.tenant_id == _o.c.tenant_id,
                                _counted.c.model == bindparam("model"),
                                _counted.c.order_id == _o.c.order_id)
    return _lines_of(select(_o.c.order_id).where(tenant_of(_o), *window, uncounted))


def _stale(with_start: bool) -> Select[Any]:
    """The lines of orders model ``model`` counted that are now cancelled (or placed
    before ``start``)."""
    gone = _o.c.status == OrderStatus.CANCELLED.value
    if with_start:
        gone = or_(gone, _o.c.placed_at < bindparam("start"))
    counted = (select(_counted.c.order_id)
               .join(_o, and_(_o.c.tenant_id == _counted.c.tenant_id,
                              _o.c.order_id == _counted.c.order_id))
               .where(tenant_of(_counted), _counted.c.model == bindparam("model"), gone))
    return _lines_of(counted)


def _lines_of(order_ids: Select[Any]) -> Select[Any]:
    """(order id, SKU, category) of the lines of the orders ``order_ids`` selects, by
    order id: the few orders a refresh needs, found first, then their lines by key
    (joining every line to its order would read them all)."""
    return (select(_l.c.order_id, _l.c.sku, _l.c.category)
            .where(tenant_of(_l), _l.c.order_id.in_(order_ids))
            .order_by(_l.c.order_id, _l.c.line_no))


def _popular(in_category: bool) -> Select[Any]:
    """A model's best sellers (in one category)."""
    query = select(_items.c.sku, _items.c.category, _items.c.baskets).where(
        tenant_of(_items), _items.c.model == bindparam("model"))
    if in_category:
        query = query.where(_items.c.category == bindparam("category"))
    return query.order_by(_items.c.baskets.desc(), _items.c.sku).limit(bindparam("limit"))


#: Statements serving runs for every suggestion, built once.
_MODEL = select(_m).where(tenant_of(_m), _m.c.name == bindparam("name"))
_POPULAR = {in_category: _popular(in_category) for in_category in (False, True)}
#: The basket reads, built once (the driver path compiles each once).
_IN_WINDOW = {(start, pending): _in_window(start, pending)
              for start in (False, True) for pending in (False, True)}
_STALE = {start: _stale(start) for start in (False, True)}


def _model_params(model: AssociationModel) -> dict[str, Any]:
    t = model.thresholds
    return {"window_days": model.window_days, "min_support": t.min_support,
            "min_confidence": t.min_confidence, "min_lift": t.min_lift,
            "min_leverage": t.min_leverage, "min_conviction": t.min_conviction,
            "max_length": t.max_length, "baskets": model.baskets,
            "rule_count": model.rule_count, "window_start": model.window_start,
            "refreshed_at": model.refreshed_at, "incremental": model.incremental}


def _model_from_row(row: Mapping[str, Any]) -> AssociationModel:
    thresholds = MiningThresholds(
        min_support=row["min_support"], min_confidence=row["min_confidence"],
        min_lift=row["min_lift"], min_leverage=row["min_leverage"],
        min_conviction=row["min_conviction"], max_length=row["max_length"])
    return AssociationModel(row["name"], thresholds, row["window_days"], row["baskets"],
                            row["rule_count"], row["window_start"], row["refreshed_at"],
                            row["incremental"])

