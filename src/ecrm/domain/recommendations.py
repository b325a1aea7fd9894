"""Recommendations: hand-written cross-sell and upsell rules, the suggestions made to a
customer, and why each one was made.

Only the records, their checks and the pure rules of combining suggestions live here;
the mined association rules are in :mod:`ecrm.domain.association` and the
``crm.recommendations`` service reads the customer's history and the stores.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

import attrs

from ecrm.domain import validation as check
from ecrm.errors import ValidationError

#: The longest SKU and category, in characters (as order lines store them).
MAX_SKU_CHARS = 64
#: The longest rule name, in characters.
MAX_RULE_NAME_CHARS = 100
#: The most SKUs or categories one side of a rule may name.
MAX_RULE_ITEMS = 100


class Trigger(enum.StrEnum):
    """What the customer did with an item that makes a rule fire."""

    BOUGHT = "bought"
    VIEWED = "viewed"
    IN_CART = "in_cart"


class RuleKind(enum.StrEnum):
    """A cross-sell suggests something to go with the item (a case with the phone); an
    upsell suggests a better, higher-priced alternative to it (the premium model)."""

    CROSS_SELL = "cross_sell"
    UPSELL = "upsell"


def _items(field: str, values: object) -> tuple[str, ...]:
    """Distinct SKUs or categories in the order given."""
    found: list[str] = []
    for index, value in enumerate(check.names(field, values)):
        item = check.required_text(f"{field}[{index}]", value, MAX_SKU_CHARS)
        if item not in found:
            found.append(item)
    if len(found) > MAX_RULE_ITEMS:
        raise ValidationError(field, f"names {len(found)} items; at most {MAX_RULE_ITEMS}")
    return tuple(found)


def _triggers(values: object) -> frozenset[Trigger]:
    convert = check.choice(Trigger, "when")
    found = frozenset(convert(value) for value in check.names("when", values))
    if not found:
        raise ValidationError("when", "name at least one of 'bought', 'viewed', 'in_cart'")
    return found


@attrs.frozen
class RecommendationRule:
    """A hand-written rule: when the customer ``when`` (bought, viewed, has in the cart)
    one of ``if_skus`` or an item of ``if_categories``, suggest ``suggest_skus`` and the
    most popular items of ``suggest_categories``.

    Rules with a higher ``priority`` come first. A rule applies from ``valid_from``
    (inclusive) to ``valid_until`` (exclusive) when set, and only to members of the saved
    segment ``segment_id`` when set.
    """

    id: str
    name: str = attrs.field(
        converter=lambda value: check.required_text("name", value, MAX_RULE_NAME_CHARS))
    kind: RuleKind = attrs.field(converter=check.choice(RuleKind, "kind"))
    created_at: datetime
    if_skus: tuple[str, ...] = attrs.field(default=(),
                                           converter=lambda v: _items("if_skus", v))
    if_categories: tuple[str, ...] = attrs.field(
        default=(), converter=lambda v: _items("if_categories", v))
    suggest_skus: tuple[str, ...] = attrs.field(
        default=(), converter=lambda v: _items("suggest_skus", v))
    suggest_categories: tuple[str, ...] = attrs.field(
        default=(), converter=lambda v: _items("suggest_categories", v))
    when: frozenset[Trigger] = attrs.field(default=frozenset({Trigger.BOUGHT}),
                                           converter=_triggers)
    priority: int = attrs.field(default=0)
    valid_from: datetime | None = attrs.field(
        default=None, converter=lambda v: check.aware("valid_from", v, required=False))
    valid_until: datetime | None = attrs.field(
        default=None, converter=lambda v: check.aware("valid_until", v, required=False))
    segment_id: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.if_skus and not self.if_categories:
            raise ValidationError("if_skus", "name at least one SKU or category to react to")
        if not self.suggest_skus and not self.suggest_categories:
            raise ValidationError("suggest_skus", "name at least one SKU or category to suggest")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int) \
                or not -1_000_000 <= self.priority <= 1_000_000:
            raise ValidationError("priority", "expected an integer in -1000000..1000000")
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValidationError("valid_until", "must be after valid_from")

    def active_at(self, moment: datetime) -> bool:
        """True when ``moment`` lies in the rule's validity window."""
        return ((self.valid_from is None or self.valid_from <= moment)
                and (self.valid_until is None or moment < self.valid_until))

    def skus(self) -> set[str]:
        """Every SKU the rule names, on either side."""
        return set(self.if_skus) | set(self.suggest_skus)


class ReasonKind(enum.StrEnum):
    """Why an item was suggested."""

    RULE = "rule"  # a hand-written rule fired on an item the customer bought/viewed/carts
    ASSOCIATION = "association"  # a mined rule: baskets with the item often hold this one
    VIEWED = "viewed"  # the customer looked at it recently and has not bought it
    POPULAR_IN_CATEGORY = "popular_in_category"  # a best seller of a category they buy in
    POPULAR = "popular"  # a best seller of the shop
    PLUGIN = "plugin"  # a plugin's source; ``detail`` is its own explanation


_TRIGGER_WORDS = {Trigger.BOUGHT: "bought", Trigger.VIEWED: "viewed",
                  Trigger.IN_CART: "has in the cart"}


@attrs.frozen
class Reason:
    """One reason for a suggestion. ``because`` holds the customer's items that led to it
    (SKUs, or the category for ``popular_in_category``), ``trigger`` what the customer
    did with them, ``rule`` the hand-written rule's name, ``detail`` free text (figures
    of a mined rule, a plugin's words)."""

    kind: ReasonKind
    because: tuple[str, ...] = ()
    trigger: Trigger | None = None
    rule: str | None = None
    detail: str | None = None

    @property
    def text(self) -> str:
        """The reason in words, e.g. ``"bought PHONE-1 (rule 'cases for phones')"``."""
        items = ", ".join(self.because)
        if self.kind is ReasonKind.POPULAR:
            return "popular in the shop"
        if self.kind is ReasonKind.POPULAR_IN_CATEGORY:
            return f"popular in category {items}"
        if self.kind is ReasonKind.VIEWED:
            return f"viewed {items}"
        if self.kind is ReasonKind.PLUGIN:
            return self.detail or "suggested by a plugin"
        said = f"{_TRIGGER_WORDS[self.trigger or Trigger.BOUGHT]} {items}"
        if self.rule is not None:
            return f"{said} (rule {self.rule!r})"
        return f"{said} ({self.detail})" if self.detail else said


@attrs.frozen
class Suggestion:
    """An item suggested to a customer: the SKU, the source that found it first (a
    built-in source name or a plugin's), a score that orders the source's own
    suggestions (higher first), and every reason any source gave."""

    sku: str
    source: str
    score: float
    reasons: tuple[Reason, ...]
    category: str | None = None

    @property
    def why(self) -> str:
        """All reasons in words, separated by ``"; "``."""
        return "; ".join(reason.text for reason in self.reasons)


@attrs.frozen
class Recommendations:
    """What ``crm.recommendations`` suggests, best first, with ``notes`` explaining what
    could not contribute (no mined model yet, an empty history, items left out)."""

    items: tuple[Suggestion, ...]
    notes: tuple[str, ...] = ()

    def skus(self) -> list[str]:
        """The suggested SKUs, best first."""
        return [item.sku for item in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Suggestion]:
        return iter(self.items)


@attrs.frozen
class Activity:
    """What a customer did with items, most recent first: SKUs they bought (with the
    category of the latest line), viewed and have in the cart (added after their last
    order and not removed since)."""

    bought: Mapping[str, str | None] = attrs.field(factory=dict)
    viewed: tuple[str, ...] = ()
    in_cart: tuple[str, ...] = ()

    def items(self, trigger: Trigger) -> Sequence[str]:
        """The SKUs of one trigger, most recent first."""
        if trigger is Trigger.BOUGHT:
            return tuple(self.bought)
        return self.viewed if trigger is Trigger.VIEWED else self.in_cart

    def categories(self) -> list[str]:
        """The categories the customer bought in, most recent first."""
        seen: list[str] = []
        for category in self.bought.values():
            if category is not None and category not in seen:
                seen.append(category)
        return seen

    @property
    def is_empty(self) -> bool:
        """True when the customer has no purchase, view or cart item."""
        return not (self.bought or self.viewed or self.in_cart)


def rule_suggestions(rules: Iterable[RecommendationRule], activity: Activity,
                     categories_of: Mapping[str, str | None],
                     popular_in: Mapping[str, Sequence[str]]) -> list[Suggestion]:
    """Suggestions of the ``rules`` (already limited to those active for the customer)
    that fire on ``activity``: a rule fires on an item it names by SKU, or by category
    (``categories_of`` gives the category of items the customer viewed or carts);
    ``popular_in`` lists the best sellers of each suggested category. Scored by
    priority."""
    found: list[Suggestion] = []
    ordered = sorted(rules, key=lambda rule: (-rule.priority, rule.name, rule.id))
    for rule in ordered:
        fired = _fired_on(rule, activity, categories_of)
        if fired is None:
            continue
        trigger, item = fired
        reason = Reason(ReasonKind.RULE, (item,), trigger, rule=rule.name)
        targets = list(rule.suggest_skus)
        for category in rule.suggest_categories:
            targets.extend(popular_in.get(category, ()))
        found.extend(Suggestion(sku, "rules", float(rule.priority), (reason,))
                     for sku in dict.fromkeys(targets))
    return found


def _fired_on(rule: RecommendationRule, activity: Activity,
              categories_of: Mapping[str, str | None]) -> tuple[Trigger, str] | None:
    """The first (trigger, item) of the customer's activity the rule reacts to."""
    for trigger in (Trigger.IN_CART, Trigger.VIEWED, Trigger.BOUGHT):
        if trigger not in rule.when:
            continue
        for sku in activity.items(trigger):
            category = activity.bought.get(sku) or categories_of.get(sku)
            if sku in rule.if_skus or (category is not None
                                       and category in rule.if_categories):
                return trigger, sku
    return None


def combine(batches: Sequence[Iterable[Suggestion]], excluded: set[str]) -> list[Suggestion]:
    """One list from the sources' suggestions: sources in the order given, each source's
    own by score (highest first; ties keep the source's order); an item suggested again
    keeps its first place and gains the later reasons; ``excluded`` SKUs are left out."""
    merged: dict[str, Suggestion] = {}
    for batch in batches:
        for item in sorted(batch, key=lambda s: -s.score):
            if item.sku in excluded:
                continue
            known = merged.get(item.sku)
            if known is None:
                merged[item.sku] = item
            else:
                extra = tuple(r for r in item.reasons if r not in known.reasons)
                merged[item.sku] = attrs.evolve(known, reasons=known.reasons + extra,
                                                category=known.category or item.category)
    return list(merged.values())


#: The interaction kinds that tell what a customer looked at and put in the cart.
ACTIVITY_KINDS = ("product_view", "cart_add", "cart_remove")


@attrs.frozen
class ItemEvent:
    """A ``product_view``, ``cart_add`` or ``cart_remove`` of a SKU."""

    kind: str
    sku: str
    occurred_at: datetime


def build_activity(bought: Iterable[tuple[str, str | None]], events: Iterable[ItemEvent],
                   last_order_at: datetime | None) -> Activity:
    """The :class:`Activity` of a customer from their order lines' (SKU, category), most
    recently placed first, and their item events, newest first: a SKU is in the cart when
    its latest cart event is an add made after the last order."""
    purchases: dict[str, str | None] = {}
    for sku, category in bought:
        purchases.setdefault(sku, category)
    viewed: list[str] = []
    cart_state: dict[str, ItemEvent] = {}
    for event in events:
        if event.kind == "product_view":
            if event.sku not in viewed:
                viewed.append(event.sku)
        elif event.kind in ("cart_add", "cart_remove"):
            cart_state.setdefault(event.sku, event)
    in_cart = tuple(sku for sku, event in cart_state.items() if event.kind == "cart_add"
                    and (last_order_at is None or event.occurred_at > last_order_at))
    return Activity(purchases, tuple(viewed), in_cart)
