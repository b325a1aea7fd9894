"""The memory backend's segment evaluator: each field read from the tenant's dicts in
plain Python, with :mod:`ecrm.domain.segment_eval` deciding what a rule means.

The customer's own fields are tested first (:func:`~ecrm.domain.segment_eval.cheap_first`,
:func:`~ecrm.domain.segment_eval.split_on_row`), so aggregates are worked out only for
the customers those let through; the tenant's orders (interactions, ...) of those
customers are grouped by customer once per evaluation, and each customer's orders picked
by window, channel or currency once, however many conditions count them."""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any

import attrs

from ecrm.backends.memory_rfm import rfm_rows
from ecrm.domain.cases import ACTIVE, Case
from ecrm.domain.consent import MARKETING
from ecrm.domain.customers import Account, Customer
from ecrm.domain.interactions import Interaction, InteractionKind
from ecrm.domain.money import from_minor, to_minor
from ecrm.domain.orders import Order, OrderStatus
from ecrm.domain.rfm import DEFAULT_BINS, DEFAULT_SEGMENTS, RFMRow, RFMScorer
from ecrm.domain.segment_eval import cheap_first, select, split_on_row
from ecrm.domain.segment_fields import RuleContext, plugin_value
from ecrm.domain.segment_rules import Condition, Rule

if TYPE_CHECKING:
    from ecrm.backends.memory import _TenantData

DAY = timedelta(days=1)


@attrs.frozen
class PythonFieldContext:
    """What a plugin field's Python form receives: the customer, the condition's
    parameters, the as-of time, and the customer's orders, interactions and cases."""

    customer: Customer
    args: dict[str, Any]
    as_of: datetime
    currency: str
    orders: list[Order]
    interactions: list[Interaction]
    cases: list[Case]


class _Index:
    """The tenant's rows grouped by customer, built on first use by one evaluation, for
    the customers in ``only`` (None: every customer)."""

    def __init__(self, data: _TenantData, context: RuleContext) -> None:
        self.data = data
        # Stored times are in UTC; comparing them with a time in the same zone saves
        # converting each one (an aware comparison across zones is ~30 times slower).
        self.as_of = context.as_of.astimezone(timezone.utc)
        self.currency = context.currency
        self.only: set[str] | None = None
        self._rfm: dict[int, dict[str, RFMRow]] = {}

    @cached_property
    def orders(self) -> dict[str, list[Order]]:
        as_of, cancelled, only = self.as_of, OrderStatus.CANCELLED, self.only
        grouped: dict[str, list[Order]] = defaultdict(list)
        for order in self.data.orders.rows.values():
            if (only is None or order.customer_id in only) \
                    and order.status is not cancelled and order.placed_at <= as_of:
                grouped[order.customer_id].append(order)
        return grouped

    @cached_property
    def interactions(self) -> dict[str, list[Interaction]]:
        return self._grouped(i for i in self.data.interactions.rows.values()
                             if i.occurred_at <= self.as_of)

    @cached_property
    def cases(self) -> dict[str, list[Case]]:
        return self._grouped(self.data.cases.rows.values())

    @cached_property
    def debts(self) -> dict[str, int]:
        owed: dict[str, int] = defaultdict(int)
        for transaction in self.data.point_transactions.rows.values():
            owed[transaction.customer_id] += transaction.debt
        return owed

    @cached_property
    def lots(self) -> dict[str, list[Any]]:
        return self._grouped(self.data.point_lots.rows.values())

    @cached_property
    def consents(self) -> set[tuple[str, str]]:
        return {(c.customer_id, c.channel) for c in self.data.consents.rows.values()
                if c.granted and c.purpose == MARKETING}

    def rfm(self, bins: int) -> dict[str, RFMRow]:
        """Every buying customer's RFM row out of ``bins``, ranked among all of them
        (never only those in ``only``), worked out once per number of bins."""
        found = self._rfm.get(bins)
        if found is None:
            rows = rfm_rows(self.data.orders.rows.values(), self.as_of, self.currency,
                            RFMScorer.of(DEFAULT_SEGMENTS, bins))
            found = self._rfm[bins] = {row.customer_id: row for row in rows}
        return found

    def _grouped(self, rows: Iterable[Any]) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        only = self.only
        for row in rows:
            if only is None or row.customer_id in only:
                grouped[row.customer_id].append(row)
        return grouped


class _Facts:
    """One customer, as the field readers see it, with what readers worked out about them
    (:meth:`remember`)."""

    __slots__ = ("customer", "index", "_memo")

    def __init__(self, customer: Customer, index: _Index) -> None:
        self.customer = customer
        self.index = index
        self._memo: dict[Any, Any] | None = None

    def remember(self, key: Any, work_out: Callable[[_Facts], Any]) -> Any:
        """``work_out(self)``, computed once per ``key`` for this customer."""
        if self._memo is None:
            self._memo = {}
        elif key in self._memo:
            return self._memo[key]
        found = self._memo[key] = work_out(self)
        return found

    @property
    def orders(self) -> list[Order]:
        return self.index.orders.get(self.customer.id, [])

    @property
    def interactions(self) -> list[Interaction]:
        return self.index.interactions.get(self.customer.id, [])

    @property
    def cases(self) -> list[Case]:
        return self.index.cases.get(self.customer.id, [])

    def account(self) -> Account | None:
        account_id = self.customer.account_id
        return None if account_id is None else self.index.data.accounts.rows.get(account_id)


Reader = Callable[[_Facts], Any]


class MemorySegmentQuery:
    """Evaluates rules over one tenant's customers."""

    def __init__(self, data: _TenantData) -> None:
        self._data = data

    def matching(self, rule: Rule, context: RuleContext) -> list[str]:
        """The ids of the customers ``rule`` selects, sorted. The customers are narrowed
        by the part of the rule on their own rows first; only the rows of those left are
        grouped for the rest."""
        row, rest = split_on_row(rule, context.fields)
        customers = list(self._data.customers.rows.values())
        index = _Index(self._data, context)
        if row is not None:
            customers = select(cheap_first(row, context.fields), customers,
                               lambda condition: _row_reader(condition, context))
            index.only = {c.id for c in customers}
        if rest is None:
            return sorted(c.id for c in customers)
        facts = select(cheap_first(rest, context.fields),
                       [_Facts(c, index) for c in customers],
                       lambda condition: _reader(condition, context))
        return sorted(f.customer.id for f in facts)

    def count(self, rule: Rule, context: RuleContext) -> int:
        """How many customers ``rule`` selects."""
        return len(self.matching(rule, context))


def _reader(condition: Condition, context: RuleContext) -> Reader:
    field = context.fields.get(condition.field)
    args = dict(condition.args)
    if field.python is not None:
        plugin = field.python
        return lambda facts: plugin_value(field, plugin(PythonFieldContext(
            facts.customer, args, context.as_of, context.currency, facts.orders,
            facts.interactions, facts.cases)))
    if field.name in _ON_ROW:
        read = _row_reader(condition, context)
        return lambda facts: read(facts.customer)
    return _BUILTIN[field.name](args, context)


def _row_reader(condition: Condition, context: RuleContext) -> Callable[[Customer], Any]:
    """The reader of a built-in field of the customer's own row, which takes the
    customer itself."""
    return _ON_ROW[condition.field](dict(condition.args), context)


# -- the built-in fields ------------------------------------------------------------------

RowBuilder = Callable[[dict[str, Any], RuleContext], Callable[[Customer], Any]]


def _profile(name: str) -> RowBuilder:
    read = operator.attrgetter(name)
    return lambda args, context: read


def _address(name: str) -> RowBuilder:
    def reader(customer: Customer) -> Any:
        address = customer.address
        return None if address is None else getattr(address, name)
    return lambda args, context: reader


def _text_attribute(attributes: Any, key: str) -> str | None:
    value = attributes.get(key)
    return value if isinstance(value, str) else None


def whole_days(since: datetime | None, as_of: datetime) -> int | None:
    """Whole days from ``since`` to ``as_of``, rounded down (None stays None)."""
    return None if since is None else (as_of - since) // DAY


def age_on(birth: date | None, today: date) -> int | None:
    """Full years of age on ``today`` (a 29 February birthday counts from 1 March)."""
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _in_window(args: dict[str, Any], as_of: datetime) -> Callable[[datetime], bool]:
    days = args.get("within_days")
    if days is None:
        return lambda moment: True
    since = (as_of - timedelta(days=days)).astimezone(timezone.utc)  # see _Index.as_of
    return lambda moment: moment >= since


def _orders(args: dict[str, Any], context: RuleContext, *, money: bool
            ) -> Callable[[_Facts], list[Order]]:
    """The orders of a customer a field counts: in the window, on the channel, and in the
    shop's currency for money. Picked once per customer for each such choice, however many
    conditions use it; with nothing to pick by, the customer's counted orders as they are.
    """
    days, channel = args.get("within_days"), args.get("channel")
    currency = context.currency if money else None
    if days is None and channel is None and currency is None:
        return lambda facts: facts.orders
    window = _in_window(args, context.as_of)

    def pick(facts: _Facts) -> list[Order]:
        return [o for o in facts.orders if window(o.placed_at)
                and (channel is None or o.channel == channel)
                and (currency is None or o.currency == currency)]
    key = ("orders", days, channel, currency)
    return lambda facts: facts.remember(key, pick)  # type: ignore[no-any-return]


def _net_minor(orders: list[Order], currency: str) -> int:
    """Total less refunds of ``orders`` (all in ``currency``), in minor units."""
    return to_minor("total", sum((o.total - o.refunded for o in orders), Decimal(0)), currency)


def _orders_count(args: dict[str, Any], context: RuleContext) -> Reader:
    chosen = _orders(args, context, money=False)
    return lambda facts: len(chosen(facts))


def _total_spent(args: dict[str, Any], context: RuleContext) -> Reader:
    chosen, currency = _orders(args, context, money=True), context.currency
    return lambda facts: from_minor(_net_minor(chosen(facts), currency), currency)


def _average_value(args: dict[str, Any], context: RuleContext) -> Reader:
    chosen, currency = _orders(args, context, money=True), context.currency

    def average(facts: _Facts) -> Decimal | None:
        orders = chosen(facts)
        if not orders:
            return None
        return from_minor(_net_minor(orders, currency) // len(orders), currency)
    return average


def _order_time(pick: Callable[..., datetime], days: bool
                ) -> Callable[[dict[str, Any], RuleContext], Reader]:
    def build(args: dict[str, Any], context: RuleContext) -> Reader:
        def read(facts: _Facts) -> Any:
            moment = pick((o.placed_at for o in facts.orders), default=None)
            return whole_days(moment, context.as_of) if days else moment
        return read
    return build


def _bought(args: dict[str, Any], context: RuleContext) -> Reader:
    window = _in_window(args, context.as_of)
    sku, category = args.get("sku"), args.get("category")

    def bought(facts: _Facts) -> bool:
        return any(
            (line.sku == sku if sku is not None else line.category == category)
            for order in facts.orders if window(order.placed_at) for line in order.lines)
    return bought


def _points(args: dict[str, Any], context: RuleContext) -> Reader:
    as_of = context.as_of

    def points(facts: _Facts) -> int:
        customer_id = facts.customer.id
        held = sum(lot.remaining for lot in facts.index.lots.get(customer_id, [])
                   if lot.remaining > 0 and lot.spendable(as_of))
        return max(0, held - facts.index.debts.get(customer_id, 0))
    return points


def _tier(args: dict[str, Any], context: RuleContext) -> Reader:
    def tier(facts: _Facts) -> str | None:
        status = facts.index.data.tier_status.rows.get(facts.customer.id)
        return None if status is None else status.tier
    return tier


def _interactions_count(args: dict[str, Any], context: RuleContext) -> Reader:
    window = _in_window(args, context.as_of)
    wanted = {name: args[name] for name in ("kind", "channel", "sku") if name in args}

    def count(facts: _Facts) -> int:
        return sum(1 for i in facts.interactions if window(i.occurred_at)
                   and all(getattr(i, name) == value for name, value in wanted.items()))
    return count


def _cart_abandoned(args: dict[str, Any], context: RuleContext) -> Reader:
    window = _in_window(args, context.as_of)

    def abandoned(facts: _Facts) -> bool:
        last_cart = max((i.occurred_at for i in facts.interactions
                         if i.kind == InteractionKind.CART_ADD and window(i.occurred_at)),
                        default=None)
        if last_cart is None:
            return False
        return not any(o.placed_at >= last_cart for o in facts.orders)
    return abandoned


def _cases_open(args: dict[str, Any], context: RuleContext) -> Reader:
    kind = args.get("type")
    return lambda facts: sum(1 for c in facts.cases if c.status in ACTIVE
                             and (kind is None or c.type == kind))


def _cases_count(args: dict[str, Any], context: RuleContext) -> Reader:
    kind, window = args.get("type"), _in_window(args, context.as_of)
    return lambda facts: sum(1 for c in facts.cases
                             if c.opened_at <= context.as_of and window(c.opened_at)
                             and (kind is None or c.type == kind))


def _consent(args: dict[str, Any], context: RuleContext) -> Reader:
    channel = args["channel"]
    return lambda facts: (facts.customer.id, channel) in facts.index.consents


def _rfm(column: str) -> Callable[[dict[str, Any], RuleContext], Reader]:
    def build(args: dict[str, Any], context: RuleContext) -> Reader:
        bins = args.get("bins", DEFAULT_BINS)

        def score(facts: _Facts) -> Any:
            row = facts.index.rfm(bins).get(facts.customer.id)
            return None if row is None else getattr(row, column)
        return score
    return build


def _account_field(read: Callable[[Account, dict[str, Any]], Any]
                   ) -> Callable[[dict[str, Any], RuleContext], Reader]:
    def build(args: dict[str, Any], context: RuleContext) -> Reader:
        def value(facts: _Facts) -> Any:
            account = facts.account()
            return None if account is None else read(account, args)
        return value
    return build


#: The fields of ``CUSTOMER_ROW_FIELDS``, read from the customer.
_ON_ROW: dict[str, RowBuilder] = {
    **{name: _profile(name) for name in (
        "email", "name", "kana_name", "phone", "external_id", "gender", "birth_date",
        "acquisition_channel", "signed_up_at", "account_id")},
    **{name: _address(name) for name in ("country", "prefecture", "city", "postal_code")},
    "birth_month": lambda args, context: lambda customer: (
        None if customer.birth_date is None else customer.birth_date.month),
    "age": lambda args, context: lambda customer: age_on(customer.birth_date,
                                                         context.as_of.date()),
    "days_since_signup": lambda args, context: lambda customer: whole_days(
        customer.signed_up_at, context.as_of),
    "attribute": lambda args, context: lambda customer: _text_attribute(
        customer.attributes, args["key"]),
}
#: The other fields, read from the customer's facts.
_BUILTIN: dict[str, Callable[[dict[str, Any], RuleContext], Reader]] = {
    "account.name": _account_field(lambda account, args: account.name),
    "account.attribute": _account_field(
        lambda account, args: _text_attribute(account.attributes, args["key"])),
    "orders.count": _orders_count,
    "orders.total_spent": _total_spent,
    "orders.average_value": _average_value,
    "orders.first_at": _order_time(min, days=False),
    "orders.last_at": _order_time(max, days=False),
    "days_since_first_order": _order_time(min, days=True),
    "days_since_last_order": _order_time(max, days=True),
    "bought": _bought,
    "loyalty.points": _points,
    "loyalty.tier": _tier,
    "interactions.count": _interactions_count,
    "cart.abandoned": _cart_abandoned,
    "cases.open": _cases_open,
    "cases.count": _cases_count,
    "consent": _consent,
    "rfm.r": _rfm("r"),
    "rfm.f": _rfm("f"),
    "rfm.m": _rfm("m"),
    "rfm.segment": _rfm("segment"),
}
