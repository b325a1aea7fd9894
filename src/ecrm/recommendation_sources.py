"""ecrm's own recommendation sources: each reads what it needs in the request's unit of
work and returns its suggestions, scored within the source (higher first)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import combinations

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.domain.association import AssociationRule
from ecrm.domain.association_models import AssociationModel, best_first
from ecrm.domain.recommendations import (
    Activity,
    Reason,
    ReasonKind,
    Suggestion,
    Trigger,
    rule_suggestions,
)

#: How many of the customer's items (cart first, then views, then purchases, newest
#: first) mined rules are looked up for; antecedents of two or more items are built
#: from the first ``PAIRED_ITEMS`` of them.
CONTEXT_ITEMS = 20
PAIRED_ITEMS = 8
#: How many categories of the customer's purchases the category source looks into.
CATEGORIES = 3


@attrs.frozen
class SourceContext:
    """What every built-in source gets: the unit of work, the customer (None for items
    asked about directly), their activity, the model (None when not mined), the time and
    how many candidates a source should offer."""

    uow: UnitOfWork
    customer_id: str | None
    activity: Activity
    model: AssociationModel | None
    now: datetime
    wanted: int


def from_rules(context: SourceContext) -> list[Suggestion]:
    """Hand-written rules that are valid now, for everyone or a segment the customer is
    in, and fire on the activity."""
    store, uow = context.uow.recommendations, context.uow
    active = [rule for rule in store.rules() if rule.active_at(context.now)
              and (rule.segment_id is None or (context.customer_id is not None and
                   uow.segments.is_member(rule.segment_id, context.customer_id)))]
    if not active:
        return []
    looked_at = [*context.activity.viewed, *context.activity.in_cart]
    categories = {}
    popular: dict[str, list[str]] = {}
    if context.model is not None:
        found = store.items(context.model.name, looked_at)
        categories = {sku: item.category for sku, item in found.items()}
        for category in {c for rule in active for c in rule.suggest_categories}:
            best = store.popular(context.model.name, category, context.wanted)
            popular[category] = [item.sku for item in best]
    return rule_suggestions(active, context.activity, categories, popular)


def from_associations(context: SourceContext) -> list[Suggestion]:
    """The mined rules whose antecedent is among the customer's items, scored by
    confidence (then lift); each consequent item is suggested."""
    if context.model is None:
        return []
    triggered = _triggers(context.activity)
    items = list(triggered)[:CONTEXT_ITEMS]
    longest = context.model.thresholds.max_length - 1
    keys = [(sku,) for sku in items]
    for size in range(2, longest + 1):
        keys.extend(tuple(sorted(c)) for c in combinations(items[:PAIRED_ITEMS], size))
    # Only each antecedent's first ``wanted`` rules: with one-item consequents (pair
    # models) a rule ranked lower cannot reach the first ``wanted`` suggestions, as each
    # rule above it suggests another item; serving then reads a few rows, not thousands.
    rules = best_first(context.uow.recommendations.rules_for(context.model.name, keys,
                                                             context.wanted))
    found: dict[str, Suggestion] = {}
    for rule in rules:
        for sku in rule.consequent:
            if sku not in found:
                found[sku] = _association(rule, sku, triggered)
        if len(found) >= context.wanted:
            break
    return list(found.values())


def _triggers(activity: Activity) -> dict[str, Trigger]:
    """Each item of the activity with the strongest thing done with it (in the cart,
    then viewed, then bought), in that order."""
    found: dict[str, Trigger] = {}
    for trigger in (Trigger.IN_CART, Trigger.VIEWED, Trigger.BOUGHT):
        for sku in activity.items(trigger):
            found.setdefault(sku, trigger)
    return found


def _association(rule: AssociationRule, sku: str, triggered: dict[str, Trigger]
                 ) -> Suggestion:
    detail = f"confidence {rule.confidence:.2f}, lift {rule.lift:.2f}"
    reason = Reason(ReasonKind.ASSOCIATION, rule.antecedent, triggered[rule.antecedent[0]],
                    detail=detail)
    return Suggestion(sku, "associations", rule.confidence, (reason,))


def from_views(context: SourceContext) -> list[Suggestion]:
    """Items the customer viewed, the most recent first."""
    viewed = context.activity.viewed[:context.wanted]
    return [Suggestion(sku, "viewed", float(len(viewed) - rank),
                       (Reason(ReasonKind.VIEWED, (sku,), Trigger.VIEWED),))
            for rank, sku in enumerate(viewed)]


def from_categories(context: SourceContext) -> list[Suggestion]:
    """The best sellers of the categories the customer bought in most recently."""
    if context.model is None:
        return []
    found = []
    for category in context.activity.categories()[:CATEGORIES]:
        reason = Reason(ReasonKind.POPULAR_IN_CATEGORY, (category,))
        for item in context.uow.recommendations.popular(context.model.name, category,
                                                        context.wanted):
            found.append(Suggestion(item.sku, "popular_in_category", float(item.baskets),
                                    (reason,), item.category))
    return found


def from_popularity(context: SourceContext) -> list[Suggestion]:
    """The shop's best sellers in the model's window."""
    if context.model is None:
        return []
    best = context.uow.recommendations.popular(context.model.name, None, context.wanted)
    return [Suggestion(item.sku, "popular", float(item.baskets),
                       (Reason(ReasonKind.POPULAR),), item.category) for item in best]


#: The built-in sources by name, in their default order.
BUILT_IN: dict[str, Callable[[SourceContext], Sequence[Suggestion]]] = {
    "rules": from_rules,
    "associations": from_associations,
    "viewed": from_views,
    "popular_in_category": from_categories,
    "popular": from_popularity,
}
