"""A/B tests on the shop's own orders (``crm.analytics.ab_test``): which variant's
customers converted more, and spent more per head?"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, ClassVar

import attrs

from ecrm.domain import validation as check
from ecrm.domain.ab_tests import (
    MeanTest,
    ProportionTest,
    check_terms,
    two_proportion_test,
    welch_t_test,
)
from ecrm.domain.money import average
from ecrm.domain.orders import CustomerTotals
from ecrm.domain.results import ResultTable
from ecrm.errors import NotFound, ValidationError

if TYPE_CHECKING:
    from ecrm.backends.base import UnitOfWork
    from ecrm.crm import CRM


@attrs.frozen
class VariantRow:
    """One variant: its customers, how many ordered in the window (``converted``), their
    orders, revenue (net of refunds), the conversion rate and revenue per customer (over
    all the variant's customers, buyers or not)."""

    variant: str
    customers: int
    converted: int
    conversion_rate: float
    orders: int
    revenue: Decimal
    revenue_per_customer: Decimal


@attrs.frozen
class ABTestReport(ResultTable[VariantRow]):
    """Each variant's figures (``rows``, control first) and, for every other variant,
    its conversion test and its revenue-per-customer test against ``control``."""

    row_type: ClassVar[type] = VariantRow
    control: str = ""
    start: datetime | None = None
    end: datetime | None = None
    currency: str = ""
    conversion: Mapping[str, ProportionTest] = attrs.field(factory=dict)
    revenue: Mapping[str, MeanTest] = attrs.field(factory=dict)

    def summary(self) -> str:
        """One line per variant against the control, saying plainly whether its
        conversion and revenue per customer differ significantly."""
        lines = []
        for variant, test in self.conversion.items():
            lines.append(f"{variant} vs {self.control}, conversion: {test.summary()}")
            lines.append(f"{variant} vs {self.control}, revenue per customer: "
                         f"{self.revenue[variant].summary()}")
        return "\n".join(lines)


class ABTestAnalysis:
    """The ``ab_test`` part of ``crm.analytics``."""

    _crm: CRM

    def ab_test(self, groups: Mapping[str, Collection[str]], *, start: datetime,
                end: datetime, control: str | None = None, alpha: float = 0.05,
                alternative: str = "two-sided") -> ABTestReport:
        """Compare variants of an experiment by what their customers did in
        ``[start, end)``: a customer *converted* with at least one order (not cancelled,
        in the shop's currency) placed in the window; revenue is the net amount of those
        orders. Each variant other than ``control`` (default: the first) gets a
        two-proportion z-test of conversion and a Welch t-test of revenue per customer
        (customers without orders count as 0).

        :param groups: variant name -> the ids of the customers assigned to it.
        :raises ValidationError: fewer than two variants, a variant with fewer than two
            customers, a customer in two variants, an unknown ``control``, naive or
            reversed times, or a bad ``alpha``/``alternative``.
        :raises NotFound: a customer id that does not exist.
        """
        assigned = _check_groups(groups, control)
        check_terms(alpha, alternative)
        control_name = control if control is not None else next(iter(assigned))
        start = check.aware("start", start)  # type: ignore[assignment]
        end = check.aware("end", end)  # type: ignore[assignment]
        if not start < end:
            raise ValidationError("end", "must be after start")
        currency = self._crm.currency
        everyone = [cid for ids in assigned.values() for cid in ids]

        def read(uow: UnitOfWork) -> dict[str, CustomerTotals]:
            missing = set(everyone) - set(uow.customers.get_many(everyone))
            if missing:
                raise NotFound("customer", sorted(missing)[0])
            return uow.analytics.order_totals(everyone, start, end, currency)

        totals = self._crm.transact(read, read_only=True)
        return _report(assigned, control_name, totals, start, end, currency, alpha,
                       alternative)


def _check_groups(groups: Mapping[str, Collection[str]], control: str | None
                  ) -> dict[str, list[str]]:
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise ValidationError("groups", "needs at least two variants")
    assigned: dict[str, list[str]] = {}
    seen: set[str] = set()
    for name, ids in groups.items():
        variant = check.required_text("groups", name, 100)
        members = [check.required_text(f"groups[{variant}]", cid, 36) for cid in ids]
        if len(set(members)) < 2:
            raise ValidationError(f"groups[{variant}]", "needs at least two customers")
        if seen & set(members):
            raise ValidationError(f"groups[{variant}]",
                                  "a customer is assigned to more than one variant")
        seen.update(members)
        assigned[variant] = sorted(set(members))
    if control is not None and control not in assigned:
        raise ValidationError("control", f"{control!r} is not one of the variants")
    return assigned


def _report(assigned: dict[str, list[str]], control: str,
            totals: dict[str, CustomerTotals], start: datetime, end: datetime,
            currency: str, alpha: float, alternative: str) -> ABTestReport:
    order = [control] + [name for name in assigned if name != control]
    rows, revenues = [], {}
    for name in order:
        ids = assigned[name]
        bought = [totals[cid] for cid in ids if cid in totals]
        revenues[name] = [totals[cid].revenue if cid in totals else Decimal(0) for cid in ids]
        revenue = sum((t.revenue for t in bought), Decimal(0))
        rows.append(VariantRow(
            name, len(ids), len(bought), len(bought) / len(ids),
            sum(t.orders for t in bought), revenue, average(revenue, len(ids), currency)))
    base = rows[0]
    conversion = {row.variant: two_proportion_test(
        base.converted, base.customers, row.converted, row.customers, alpha=alpha,
        alternative=alternative) for row in rows[1:]}
    revenue = {row.variant: welch_t_test(revenues[control], revenues[row.variant],
                                         alpha=alpha, alternative=alternative)
               for row in rows[1:]}
    return ABTestReport(rows, control, start, end, currency, conversion, revenue)
