"""What a campaign's templates may use, and the per-recipient context they render with.

A variant's templates are parsed when the campaign is created, and every path they use
is checked against the context ecrm provides, so a typo fails at creation and not while
200,000 messages are being queued. The context holds plain values only (the template
sandbox refuses anything else):

``customer``
    ``id``, ``name``, ``kana_name``, ``email``, ``phone``, ``birth_date``, ``gender``,
    ``prefecture``, ``city``, ``signed_up_at``, ``attributes`` (the customer's own).
``points``
    ``balance`` (spendable now), ``total``, ``pending``.
``tier``
    ``name`` (None without a tier).
``coupon``
    ``code``, ``description``, ``amount``, ``percent``, ``valid_until``; only in campaigns
    that offer one.
``recommendations``
    a list of ``{"sku", "category", "why"}``, best first.
``campaign``
    ``id``, ``name``, ``variant``.
``unsubscribe_url``
    the campaign's URL with the customer's signed token; only when the campaign has one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from ecrm.domain.campaigns import Variant
from ecrm.domain.coupons import Coupon
from ecrm.domain.customers import Customer
from ecrm.domain.loyalty import PointsBalance
from ecrm.domain.recommendations import Suggestion
from ecrm.domain.templates import Template
from ecrm.errors import ValidationError

CUSTOMER_FIELDS = frozenset({"id", "name", "kana_name", "email", "phone", "birth_date",
                             "gender", "prefecture", "city", "signed_up_at", "attributes"})
#: The top-level names of the context, with the fields each allows (None: any below).
ROOTS: Mapping[str, frozenset[str] | None] = {
    "customer": CUSTOMER_FIELDS,
    "points": frozenset({"balance", "total", "pending"}),
    "tier": frozenset({"name"}),
    "coupon": frozenset({"code", "description", "amount", "percent", "valid_until"}),
    "recommendations": None,
    "campaign": frozenset({"id", "name", "variant"}),
    "unsubscribe_url": frozenset(),
}
#: How many recommendations the context holds.
RECOMMENDATIONS = 5


@attrs.frozen
class CompiledVariant:
    """A variant's parsed templates and the context roots they need."""

    name: str
    body: Template
    subject: Template | None
    html: Template | None
    needs: frozenset[str]
    #: The ``customer`` fields the templates use (None: the whole ``customer``).
    customer_fields: frozenset[str] | None = None

    def render(self, context: Mapping[str, object]) -> tuple[str | None, str, str | None]:
        """``(subject, body, html)`` for one recipient."""
        subject, body, html = Template.render_each([self.subject, self.body, self.html],
                                                   context)
        assert body is not None
        return None if subject is None else subject.strip(), body, html


def compile_variants(variants: Sequence[Variant], *, has_coupon: bool,
                     has_unsubscribe: bool) -> tuple[CompiledVariant, ...]:
    """Parse every template of ``variants`` and check the paths they use.

    :raises ValidationError: on ``variants[i]``: a template that does not parse, a path
        outside the context, a coupon in a campaign without one, or an unsubscribe link
        in a campaign without an ``unsubscribe_url``.
    """
    missing = {"coupon": has_coupon, "unsubscribe_url": has_unsubscribe}
    compiled = []
    for index, variant in enumerate(variants):
        field = f"variants[{index}]"
        templates = [_parse(field, variant.body, "body"),
                     None if variant.subject is None else _parse(field, variant.subject,
                                                                  "subject"),
                     None if variant.html is None else _parse(field, variant.html, "html",
                                                               autoescape=True)]
        paths = {path for t in templates if t is not None for path in t.names()}
        roots = {_root(field, path) for path in paths}
        for root, available in missing.items():
            if root in roots and not available:
                raise ValidationError(field, f"uses {root}, which this campaign does not "
                                             "provide")
        compiled.append(CompiledVariant(variant.name, templates[0], templates[1],
                                        templates[2], frozenset(roots),
                                        _customer_fields(paths)))
    return tuple(compiled)


def _customer_fields(paths: Collection[str]) -> frozenset[str] | None:
    """The fields of ``customer`` that ``paths`` (checked by :func:`_root`) step into;
    None when one uses ``customer`` itself."""
    fields = set()
    for path in paths:
        root, _, rest = path.partition(".")
        if root == "customer":
            if not rest:
                return None
            fields.add(rest.split(".")[0].split("[")[0])
    return frozenset(fields)


def _parse(field: str, source: str, part: str, *, autoescape: bool = False) -> Template:
    if not isinstance(source, str):
        raise ValidationError(field, f"{part} must be a template string")
    try:
        return Template.parse(source, autoescape=autoescape)
    except ValidationError as error:
        raise ValidationError(field, f"{part}: {error.message}") from None


def _root(field: str, path: str) -> str:
    """The context root of ``path`` after checking it names a field that exists."""
    parts = path.replace("[", ".[").split(".")
    root, rest = parts[0], parts[1:]
    if root not in ROOTS:
        raise ValidationError(field, f"unknown name {path!r}; the context has "
                                     f"{', '.join(sorted(ROOTS))}")
    allowed = ROOTS[root]
    if allowed is not None and rest and rest[0] not in allowed:
        raise ValidationError(field, f"unknown name {path!r}; {root} has "
                                     f"{', '.join(sorted(allowed)) or 'no fields'}")
    return root


def customer_context(customer: Customer, fields: Collection[str] | None = None
                     ) -> dict[str, Any]:
    """The ``customer`` entry of the context: only ``fields`` when given (the templates
    use no others, and a smaller context is checked faster)."""
    whole = _customer_context(customer)
    return whole if fields is None else {name: whole[name] for name in fields}


def _customer_context(customer: Customer) -> dict[str, Any]:
    address = customer.address
    return {"id": customer.id, "name": customer.name, "kana_name": customer.kana_name,
            "email": customer.email, "phone": customer.phone,
            "birth_date": customer.birth_date, "gender": customer.gender,
            "prefecture": None if address is None else address.prefecture,
            "city": None if address is None else address.city,
            "signed_up_at": customer.signed_up_at,
            "attributes": dict(customer.attributes)}


def points_context(balance: PointsBalance) -> dict[str, Any]:
    """The ``points`` entry of the context."""
    return {"balance": balance.spendable, "total": balance.total, "pending": balance.pending}


def coupon_context(coupon: Coupon) -> dict[str, Any]:
    """The ``coupon`` entry of the context."""
    percent = coupon.percent
    if percent is not None and percent == percent.to_integral_value():
        percent = int(percent)  # "10%", not "10.00%"
    return {"code": coupon.code, "description": coupon.description, "amount": coupon.amount,
            "percent": percent, "valid_until": coupon.valid_until}


def recommendations_context(suggestions: Collection[Suggestion]) -> list[dict[str, Any]]:
    """The ``recommendations`` entry of the context."""
    return [{"sku": s.sku, "category": s.category, "why": s.why} for s in suggestions]
