"""SQL repository of recommendations: hand-written rules in
``ecrm_recommendation_rules`` and the reads of a customer's items; the mined models are
:class:`~ecrm.backends.sql.associations.SQLAssociationStore`'s."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, or_, select, update

from ecrm.backends.sql import tables
from ecrm.backends.sql.associations import SQLAssociationStore
from ecrm.backends.sql.repositories import IN_CHUNK, TENANT, tenant_of
from ecrm.batching import chunks
from ecrm.domain.orders import OrderStatus
from ecrm.domain.recommendations import (
    ACTIVITY_KINDS,
    Activity,
    ItemEvent,
    RecommendationRule,
    build_activity,
)

_r = tables.recommendation_rules
_o = tables.orders
_l = tables.order_lines
_i = tables.interactions

#: Every hand-written rule of the tenant.
_every_rule = select(_r).where(tenant_of(_r))

#: The customer's order ids, through the (tenant, customer, placed_at) index.
_theirs = tables.orders.alias("theirs")
_their_orders = select(_theirs.c.order_id).where(
    _theirs.c.tenant_id == bindparam(TENANT), _theirs.c.customer_id == bindparam("customer_id"))

#: The customer's order lines, most recently placed order first (built once: serving
#: runs it for every suggestion). The IN makes SQLite find the customer's orders first
#: and their lines by key; a plain join reads every line of the tenant.
_bought = (
    select(_l.c.sku, _l.c.category, _o.c.placed_at)
    .select_from(_o.join(_l, and_(_l.c.tenant_id == _o.c.tenant_id,
                                  _l.c.order_id == _o.c.order_id)))
    .where(tenant_of(_o), _o.c.customer_id == bindparam("customer_id"),
           _o.c.status != OrderStatus.CANCELLED.value,
           _l.c.order_id.in_(_their_orders))
    .order_by(_o.c.placed_at.desc(), _o.c.order_id.desc(), _l.c.line_no))

#: The customer's newest item events since a time.
_events = (
    select(_i.c.kind, _i.c.sku, _i.c.occurred_at)
    .where(tenant_of(_i), _i.c.customer_id == bindparam("customer_id"),
           _i.c.occurred_at >= bindparam("since"),
           or_(*(_i.c.kind == kind for kind in ACTIVITY_KINDS)),  # no expanding IN: built once
           _i.c.sku.is_not(None))
    .order_by(_i.c.occurred_at.desc(), _i.c.id.desc()).limit(bindparam("limit")))


class SQLRecommendationRepository(SQLAssociationStore):
    """Rules, customers' items, and (inherited) the association models."""

    # -- hand-written rules ------------------------------------------------------------

    def add_rule(self, rule: RecommendationRule) -> None:
        self._conn.execute(insert(_r), {"tenant_id": self._tenant, **_rule_params(rule)})

    def get_rule(self, rule_id: str) -> RecommendationRule | None:
        found = self._rules(_r.c.id == rule_id)
        return found[0] if found else None

    def rule_by_name(self, name: str) -> RecommendationRule | None:
        # Compared again here: MySQL's PAD SPACE collations match trailing spaces too.
        return next((rule for rule in self._rules(_r.c.name == name) if rule.name == name),
                    None)

    def rules(self) -> list[RecommendationRule]:
        rows = self._rows(_every_rule)  # every suggestion reads them: built once
        found = [_rule_from_row(dict(zip(_r.c.keys(), row, strict=True))) for row in rows]
        return sorted(found, key=lambda rule: rule.name)

    def replace_rule(self, rule: RecommendationRule) -> None:
        params = _rule_params(rule)
        self._conn.execute(update(_r).where(self._mine(_r), _r.c.id == rule.id)
                           .values({k: v for k, v in params.items() if k != "id"}))

    def delete_rule(self, rule_id: str) -> None:
        self._conn.execute(delete(_r).where(self._mine(_r), _r.c.id == rule_id))

    def _rules(self, *conditions: Any) -> list[RecommendationRule]:
        query = select(_r).where(self._mine(_r), *conditions)
        return [_rule_from_row(row) for row in self._conn.execute(query).mappings()]

    # -- what customers did --------------------------------------------------------------

    def activity(self, customer_id: str, *, since: datetime, limit: int) -> Activity:
        lines = self._rows(_bought, customer_id=customer_id)
        events = self._rows(_events, customer_id=customer_id, since=since, limit=limit)
        return build_activity(((sku, category) for sku, category, _ in lines),
                              [ItemEvent(kind, sku, at) for kind, sku, at in events],
                              lines[0][2] if lines else None)

    def known_skus(self, skus: Collection[str]) -> set[str]:
        found: set[str] = set()
        for part in chunks(sorted(set(skus)), IN_CHUNK):
            for column, table in ((_l.c.sku, _l), (_i.c.sku, _i)):
                query = select(column).where(self._mine(table), column.in_(part)).distinct()
                found.update(self._conn.execute(query).scalars())
        return found & set(skus)  # MySQL's collations may match more loosely


def _rule_params(rule: RecommendationRule) -> dict[str, Any]:
    return {"id": rule.id, "name": rule.name, "kind": rule.kind.value,
            "triggers": ",".join(sorted(trigger.value for trigger in rule.when)),
            "if_skus": list(rule.if_skus), "if_categories": list(rule.if_categories),
            "suggest_skus": list(rule.suggest_skus),
            "suggest_categories": list(rule.suggest_categories),
            "priority": rule.priority, "valid_from": rule.valid_from,
            "valid_until": rule.valid_until, "segment_id": rule.segment_id,
            "created_at": rule.created_at}


def _rule_from_row(row: Mapping[str, Any]) -> RecommendationRule:
    return RecommendationRule(
        id=row["id"], name=row["name"], kind=row["kind"], created_at=row["created_at"],
        if_skus=row["if_skus"], if_categories=row["if_categories"],
        suggest_skus=row["suggest_skus"], suggest_categories=row["suggest_categories"],
        when=row["triggers"].split(","), priority=row["priority"],
        valid_from=row["valid_from"], valid_until=row["valid_until"],
        segment_id=row["segment_id"])
