"""Recommendations (``crm.recommendations``): cross-sell and upsell for a customer or for
the items in hand, each suggestion with its reasons.

Suggestions come from sources, in an order the caller may change: hand-written rules,
mined association rules (see :mod:`ecrm.recommendation_mining`), plugin sources, what
the customer viewed, the best sellers of the categories they buy in, and the shop's best
sellers. What they bought already (optionally), what is in their cart and what the host
says is unavailable (``ecrm_unavailable_skus``) is left out; a plugin may re-rank the
result (``ecrm_rerank_recommendations``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from ecrm.backends.base import UnitOfWork
from ecrm.customers import resolve_customer
from ecrm.domain import validation as check
from ecrm.domain.association_models import model_name
from ecrm.domain.ids import new_id
from ecrm.domain.recommendations import (
    Activity,
    RecommendationRule,
    Recommendations,
    Suggestion,
    combine,
)
from ecrm.errors import NotFound, ValidationError
from ecrm.recommendation_mining import DEFAULT_MODEL, AssociationMining
from ecrm.recommendation_sources import BUILT_IN, SourceContext

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: The sources in their default order; ``"plugins"`` stands for every plugin source, in
#: the order the plugins were registered.
DEFAULT_SOURCES = ("rules", "associations", "plugins", "viewed", "popular_in_category",
                   "popular")
#: The most suggestions one call returns.
MAX_LIMIT = 100
#: How far back views and cart events count, by default.
VIEW_DAYS = 30
#: The newest item events read per customer.
EVENTS_READ = 200


@attrs.frozen
class SuggestionRequest:
    """What a plugin source is asked: the customer (None when items were asked about
    directly), their activity, the model name and how many suggestions are wanted."""

    customer_id: str | None
    activity: Activity
    model: str
    limit: int
    now: datetime


class RecommendationSource(Protocol):
    """A plugin's source of suggestions (contributed by ``ecrm_recommendation_sources``)."""

    name: str

    def suggest(self, crm: CRM, request: SuggestionRequest) -> Iterable[Suggestion]:
        """Suggestions for the request, best first or scored."""


@attrs.frozen
class _Gathered:
    """What one unit of work found: the customer (their id after merges), the built-in
    sources' suggestions by name, what to leave out, and notes."""

    customer_id: str | None
    batches: dict[str, list[Suggestion]]
    excluded: set[str]
    activity: Activity
    notes: list[str]


class RecommendationService(AssociationMining):
    """The ``crm.recommendations`` capability: rules, mining and suggestions."""

    def __init__(self, crm: CRM) -> None:
        self._crm = crm
        self._plugin_sources: dict[str, RecommendationSource] | None = None

    # -- hand-written rules ------------------------------------------------------------

    def add_rule(self, name: str, *, kind: str = "cross_sell", if_skus: Iterable[str] = (),
                 if_categories: Iterable[str] = (), suggest_skus: Iterable[str] = (),
                 suggest_categories: Iterable[str] = (), when: Iterable[str] = ("bought",),
                 priority: int = 0, valid_from: datetime | None = None,
                 valid_until: datetime | None = None, segment: str | None = None,
                 check_skus: bool = True) -> RecommendationRule:
        """Add a rule: when the customer did ``when`` (``"bought"``, ``"viewed"``,
        ``"in_cart"``) with one of ``if_skus`` or an item of ``if_categories``, suggest
        ``suggest_skus`` and the best sellers of ``suggest_categories``. ``kind`` is
        ``"cross_sell"`` or ``"upsell"``; higher ``priority`` comes first; the rule is
        valid from ``valid_from`` until ``valid_until`` and, with ``segment`` (a saved
        segment's name or id), only for its members.

        :raises ValidationError: a field breaks its rule, or (with ``check_skus``) a SKU
            appears on no order line or interaction of the shop: a typo would silently
            never fire. Pass ``check_skus=False`` for products not sold or seen yet.
        :raises NotFound: no such segment.
        :raises ConflictError: a rule of that name exists.
        """
        rule = RecommendationRule(
            id=new_id(), name=name, kind=kind, created_at=self._crm.clock.now(),
            if_skus=if_skus, if_categories=if_categories, suggest_skus=suggest_skus,
            suggest_categories=suggest_categories, when=when, priority=priority,
            valid_from=valid_from, valid_until=valid_until)

        def work(uow: UnitOfWork) -> RecommendationRule:
            checked = self._checked(uow, rule, segment, check_skus)
            uow.recommendations.add_rule(checked)
            return checked

        return self._crm.transact(work)

    def update_rule(self, name: str, *, check_skus: bool = True,
                    **changes: Any) -> RecommendationRule:
        """Change rule ``name``: any argument of :meth:`add_rule` (``name`` renames it;
        ``segment=None`` makes it tenant-wide again).

        :raises NotFound: no rule of that name (or no such segment).
        :raises ValidationError: as :meth:`add_rule`, or an unknown argument.
        """
        allowed = {"name", "kind", "if_skus", "if_categories", "suggest_skus",
                   "suggest_categories", "when", "priority", "valid_from", "valid_until",
                   "segment"}
        for key in changes:
            if key not in allowed:
                raise ValidationError(key, "is not a rule field")
        segment_change = changes.pop("segment", attrs.NOTHING)

        def work(uow: UnitOfWork) -> RecommendationRule:
            stored = self._rule(uow, name)
            rule = attrs.evolve(stored, **changes)
            segment = stored.segment_id if segment_change is attrs.NOTHING else segment_change
            checked = self._checked(uow, rule, segment, check_skus)
            uow.recommendations.replace_rule(checked)
            return checked

        return self._crm.transact(work)

    def remove_rule(self, name: str) -> None:
        """Delete rule ``name``. :raises NotFound: no rule of that name."""
        self._crm.transact(
            lambda uow: uow.recommendations.delete_rule(self._rule(uow, name).id))

    def get_rule(self, name: str) -> RecommendationRule:
        """The rule called ``name``. :raises NotFound: there is none."""
        return self._crm.transact(lambda uow: self._rule(uow, name), read_only=True)

    def rules(self) -> list[RecommendationRule]:
        """Every rule, by name."""
        return self._crm.transact(lambda uow: uow.recommendations.rules(), read_only=True)

    def _rule(self, uow: UnitOfWork, name: str) -> RecommendationRule:
        found = uow.recommendations.rule_by_name(name) if isinstance(name, str) else None
        if found is None:
            raise NotFound("recommendation rule", name)
        return found

    def _checked(self, uow: UnitOfWork, rule: RecommendationRule, segment: str | None,
                 check_skus: bool) -> RecommendationRule:
        """The rule with its segment resolved to an id, its SKUs checked if asked."""
        segment_id = None
        if segment is not None:
            found = uow.segments.by_name(segment) or uow.segments.get(segment)
            if found is None:
                raise NotFound("segment", segment)
            segment_id = found.id
        if check_skus:
            known = uow.recommendations.known_skus(rule.skus())
            for field in ("if_skus", "suggest_skus"):
                unknown = [sku for sku in getattr(rule, field) if sku not in known]
                if unknown:
                    raise ValidationError(field, f"unknown SKU {unknown[0]!r}: no order line "
                                          "or interaction names it (check_skus=False "
                                          "allows items not sold or seen yet)")
        return attrs.evolve(rule, segment_id=segment_id)

    # -- suggestions -------------------------------------------------------------------

    def for_customer(self, customer_id: str, *, limit: int = 10, model: str = DEFAULT_MODEL,
                     sources: Sequence[str] = DEFAULT_SOURCES, exclude_purchased: bool = True,
                     exclude: Iterable[str] = (), view_days: int = VIEW_DAYS
                     ) -> Recommendations:
        """Up to ``limit`` items for the customer, best first, each with its reasons.

        Sources are asked in the order of ``sources`` (names of :data:`DEFAULT_SOURCES`
        or of plugin sources); an item two sources suggest keeps its first place and
        both reasons. Left out: what the customer bought (unless ``exclude_purchased``
        is False), what is in their cart, the ``exclude`` SKUs and what the host says is
        unavailable. Views and cart events of the last ``view_days`` days count.

        :raises NotFound: no such customer.
        :raises ValidationError: a bad limit, source name, model name or ``view_days``.
        """
        limit, names, model = self._request(limit, sources, model)
        days = check.positive_int("view_days", view_days)
        unwanted = {str(sku) for sku in check.names("exclude", exclude)}
        now = self._crm.clock.now()

        def gather(uow: UnitOfWork) -> _Gathered:
            cid = resolve_customer(uow, customer_id).id
            activity = uow.recommendations.activity(cid, since=now - timedelta(days=days),
                                                    limit=EVENTS_READ)
            excluded = set(activity.in_cart) | unwanted
            if exclude_purchased:
                excluded |= set(activity.bought)
            notes = [] if not activity.is_empty else [
                "the customer has no purchases, views or cart items yet"]
            return self._gather(uow, cid, activity, excluded, names, model, limit, now,
                                notes)

        found = self._crm.transact(gather, read_only=True)
        return self._finish(found, names, model, limit, now)

    def for_items(self, skus: Iterable[str], *, limit: int = 10, model: str = DEFAULT_MODEL,
                  sources: Sequence[str] = DEFAULT_SOURCES, exclude: Iterable[str] = ()
                  ) -> Recommendations:
        """Up to ``limit`` items to go with ``skus`` (a cart, a product page), as
        :meth:`for_customer` finds them for a customer whose cart holds ``skus``; rules
        limited to a segment do not apply.

        :raises ValidationError: no SKU given, or a SKU the shop has never seen (on an
            order line or an interaction).
        """
        limit, names, model = self._request(limit, sources, model)
        items = tuple(dict.fromkeys(
            check.required_text(f"skus[{i}]", sku, 64)
            for i, sku in enumerate(check.names("skus", skus))))
        if not items:
            raise ValidationError("skus", "name at least one SKU")
        unwanted = {str(sku) for sku in check.names("exclude", exclude)}
        now = self._crm.clock.now()

        def gather(uow: UnitOfWork) -> _Gathered:
            self._check_known(uow, items, model)
            activity = Activity(in_cart=items)
            return self._gather(uow, None, activity, set(items) | unwanted, names,
                                model, limit, now, [])

        found = self._crm.transact(gather, read_only=True)
        return self._finish(found, names, model, limit, now)

    def _request(self, limit: int, sources: Sequence[str], model: str
                 ) -> tuple[int, list[str], str]:
        """The checked limit, source names and model name of a request."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise ValidationError("limit", f"expected an integer in 1..{MAX_LIMIT}")
        names = [str(name) for name in check.names("sources", sources)]
        known = {*BUILT_IN, "plugins", *self._sources()}
        for name in names:
            if name not in known:
                raise ValidationError("sources", f"unknown source {name!r}; known: "
                                      + ", ".join(sorted(known)))
        return limit, names, model_name(model)

    def _check_known(self, uow: UnitOfWork, skus: Sequence[str], model: str) -> None:
        """Refuse SKUs neither the model's items nor any order line or interaction name."""
        held = uow.recommendations.items(model, skus)
        rest = [sku for sku in skus if sku not in held]
        known = uow.recommendations.known_skus(rest) if rest else set()
        unknown = [sku for sku in rest if sku not in known]
        if unknown:
            raise ValidationError("skus", f"unknown SKU {unknown[0]!r}: no order line or "
                                  "interaction of this shop names it")

    def _gather(self, uow: UnitOfWork, customer_id: str | None, activity: Activity,
                excluded: set[str], names: list[str], model: str, limit: int,
                now: datetime, notes: list[str]) -> _Gathered:
        """Run the built-in sources named in one unit of work."""
        stored = uow.recommendations.get_model(model)
        if stored is None:
            notes.append(f"no mined model {model!r}: associations and best sellers need "
                         "crm.recommendations.mine() first")
        wanted = 2 * limit + len(excluded)
        context = SourceContext(uow, customer_id, activity, stored, now, wanted)
        batches = {name: list(BUILT_IN[name](context)) for name in names if name in BUILT_IN}
        return _Gathered(customer_id, batches, excluded, activity, notes)

    def _finish(self, found: _Gathered, names: list[str], model: str, limit: int,
                now: datetime) -> Recommendations:
        """Plugin sources, the sources' order, availability, re-ranking and the cut."""
        customer_id = found.customer_id
        request = SuggestionRequest(customer_id, found.activity, model, limit, now)
        batches = []
        for name in names:
            if name in found.batches:
                batches.append(found.batches[name])
            else:
                batches.extend(self._plugin_batch(source, request)
                               for key, source in self._sources().items()
                               if name in ("plugins", key))
        combined = combine(batches, found.excluded)
        notes = list(found.notes)
        combined = self._available(combined, notes)
        reranked = self._crm.plugin_manager.hook.ecrm_rerank_recommendations(
            crm=self._crm, customer_id=customer_id, suggestions=list(combined))
        if reranked is not None:
            combined = _checked_suggestions(reranked)
        if not combined:
            notes.append("no source had anything to suggest")
        return Recommendations(tuple(combined[:limit]), tuple(notes))

    def _available(self, suggestions: list[Suggestion], notes: list[str]) -> list[Suggestion]:
        """The suggestions the host does not call unavailable."""
        if not suggestions:
            return suggestions
        answers = self._crm.plugin_manager.hook.ecrm_unavailable_skus(
            crm=self._crm, skus=tuple(item.sku for item in suggestions))
        unavailable = {sku for answer in answers for sku in answer or ()}
        if not unavailable:
            return suggestions
        kept = [item for item in suggestions if item.sku not in unavailable]
        notes.append(f"{len(suggestions) - len(kept)} unavailable item(s) left out")
        return kept

    def _plugin_batch(self, source: RecommendationSource, request: SuggestionRequest
                      ) -> list[Suggestion]:
        return _checked_suggestions(source.suggest(self._crm, request))

    def _sources(self) -> dict[str, RecommendationSource]:
        """Plugin sources by name, gathered once."""
        if self._plugin_sources is None:
            found: dict[str, RecommendationSource] = {}
            for contributed in self._crm.plugin_manager.hook.ecrm_recommendation_sources(
                    crm=self._crm):
                for source in contributed or ():
                    name = check.identifier("source.name", getattr(source, "name", None))
                    if name in found or name in BUILT_IN or name == "plugins":
                        raise ValidationError("source.name",
                                              f"a source named {name!r} exists already")
                    found[name] = source
            self._plugin_sources = found
        return self._plugin_sources


def _checked_suggestions(items: Iterable[Any]) -> list[Suggestion]:
    """A plugin's answer, refused unless every item is a :class:`Suggestion`."""
    found = list(items or ())
    for item in found:
        if not isinstance(item, Suggestion):
            raise ValidationError("suggestions", f"expected ecrm.Suggestion items, got "
                                  f"{type(item).__name__}")
    return found

