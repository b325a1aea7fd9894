"""Everything ecrm holds about one customer as one JSON document (``crm.privacy.export``).

The document is read in one read-only unit of work, so it is consistent. It is built from
:data:`SECTIONS`: each section names the tables it covers (those that refer to a customer)
and the reader that fills it. :data:`NOT_EXPORTED` lists, with the reason, the tables that
refer to a customer and are left out on purpose. A test holds the two together against the
schema: a new table that refers to a customer fails it until a section covers the table or
the table is listed here as not exported. Adding a section is one reader and one entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ecrm.audit import customer_family
from ecrm.backends.base import UnitOfWork
from ecrm.customers import merges_folded_into, resolve_customer
from ecrm.domain import suppression as suppression_rules
from ecrm.domain import validation as check
from ecrm.domain.audit import AuditEntry, AuditQuery
from ecrm.domain.customers import Customer
from ecrm.domain.export_document import FORMAT, FORMAT_VERSION, jsonable
from ecrm.domain.timeline import Before

if TYPE_CHECKING:
    from ecrm.crm import CRM

#: Rows read per page from histories that may be long (interactions, ledger, messages).
PAGE = 500

Row = TypeVar("Row")


@attrs.frozen
class Reading:
    """What a section reader gets: the unit of work and the customer being exported;
    ``memo`` keeps reads that two sections share."""

    uow: UnitOfWork
    customer: Customer
    memo: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Section:
    """One key of the document. ``tables`` are the tables referring to a customer whose
    rows the section holds; ``context`` other tables it reads to explain them (a segment's
    name, the customer's account); ``read`` returns the section's JSON value."""

    name: str
    tables: tuple[str, ...]
    read: Callable[[Reading], Any]
    context: tuple[str, ...] = ()


def export(crm: CRM, customer_id: str) -> dict[str, Any]:
    """The export document of ``customer_id`` (a merged-away id answers for its survivor).

    :raises NotFound: no such customer.
    :raises ValidationError: ``customer_id`` is not an id.
    """
    wanted = check.required_text("customer_id", customer_id, 128)
    now = crm.clock.now()

    def work(uow: UnitOfWork) -> dict[str, Any]:
        reading = Reading(uow, resolve_customer(uow, wanted))
        document: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "exported_at": now.isoformat(), "tenant": uow.tenant,
            "customer_id": reading.customer.id, "requested_id": wanted}
        for section in SECTIONS:
            document[section.name] = section.read(reading)
        return document

    return crm.transact(work, read_only=True)


def all_pages(fetch: Callable[[Before | None, int], list[Row]],
              position: Callable[[Row], tuple[datetime, str]]) -> list[Row]:
    """Every row of a newest-first keyset read (``fetch(before, limit)``), page by page,
    oldest first."""
    rows: list[Row] = []
    before: Before | None = None
    while True:
        page = fetch(before, PAGE)
        rows.extend(page)
        if len(page) < PAGE:
            break
        before = Before(*position(page[-1]))
    rows.reverse()
    return rows


# -- section readers ----------------------------------------------------------------------

def _profile(r: Reading) -> dict[str, Any]:
    account_id = r.customer.account_id
    account = None if account_id is None else r.uow.accounts.get(account_id)
    return {**jsonable(r.customer), "account": jsonable(account)}


def _merged_customers(r: Reading) -> list[dict[str, Any]]:
    """The duplicates folded into the customer, and those folded into them, by time."""
    return [{"duplicate_id": m.duplicate_id, "survivor_id": m.survivor_id,
             "merged_at": jsonable(m.merged_at), "snapshot": jsonable(m.duplicate)}
            for m in merges_folded_into(r.uow, r.customer.id)]


def _consents(r: Reading) -> dict[str, Any]:
    consents = r.uow.consents
    return {"current": jsonable(consents.for_customer(r.customer.id)),
            "history": jsonable(consents.history(r.customer.id, None))}


def _suppressions(r: Reading) -> list[Any]:
    """Entries of the suppression list for the customer's e-mail address and phone
    number, and for the addresses their messages went to."""
    wanted = suppression_rules.keys_of(
        [r.customer], [(m.channel, m.recipient) for m in _messages_of(r)])
    entries = (r.uow.suppressions.get(channel, address) for channel, address in sorted(wanted))
    return [jsonable(entry) for entry in entries if entry is not None]


def _orders(r: Reading) -> list[dict[str, Any]]:
    orders = r.uow.orders
    found = all_pages(lambda before, limit: orders.timeline(
        r.customer.id, before=before, limit=limit, channels=None),
        lambda o: (o.placed_at, o.order_id))
    return [{**jsonable(order),
             "refunds": jsonable(orders.refunds(order.order_id) if order.refunded else [])}
            for order in found]


def _interactions(r: Reading) -> list[Any]:
    return jsonable(all_pages(lambda before, limit: r.uow.interactions.timeline(
        r.customer.id, before=before, limit=limit, channels=None, kinds=None),
        lambda i: (i.occurred_at, i.id)))


def _cases(r: Reading) -> list[dict[str, Any]]:
    repo, customer_id = r.uow.cases, r.customer.id
    cases = all_pages(lambda before, limit: repo.case_timeline(
        customer_id, before=before, limit=limit, channels=None), lambda c: (c.opened_at, c.id))
    messages = all_pages(lambda before, limit: repo.message_timeline(
        customer_id, before=before, limit=limit, channels=None, kinds=None),
        lambda m: (m.occurred_at, m.id))
    ids = [case.id for case in cases]
    histories = repo.histories(ids) if ids else {}
    parts = {"messages": _by_case(messages),
             "sla_breaches": _by_case(repo.breaches(ids) if ids else []),
             "surveys": _by_case(repo.surveys(ids) if ids else [])}
    return [{**jsonable(case), "status_changes": jsonable(histories.get(case.id, [])),
             **{name: jsonable(found.get(case.id, [])) for name, found in parts.items()}}
            for case in cases]


def _by_case(rows: list[Any]) -> dict[str, list[Any]]:
    """``rows`` (messages, breaches, surveys) grouped by their case, in order."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.case_id, []).append(row)
    return grouped


def _loyalty(r: Reading) -> dict[str, Any]:
    uow, customer_id = r.uow, r.customer.id
    transactions = all_pages(lambda before, limit: uow.loyalty.timeline(
        customer_id, before=before, limit=limit, kinds=None),
        lambda t: (t.occurred_at, t.id))
    return {"transactions": jsonable(transactions),
            "lots": jsonable(uow.loyalty.lots_of(customer_id)),
            "tier": jsonable(uow.tiers.status(customer_id)),
            "tier_changes": jsonable(uow.tiers.changes(customer_id))}


#: The fields of a coupon that describe the offer (not the shop's running totals).
_OFFER_FIELDS = ("code", "kind", "currency", "amount", "percent", "max_discount",
                 "min_order", "valid_from", "valid_until", "description")


def _coupons(r: Reading) -> dict[str, Any]:
    repo = r.uow.coupons
    issues = repo.issues_of(r.customer.id)
    offers = repo.get_many({issue.code for issue in issues})
    return {"issued": [{**jsonable(issue), "coupon": _offer(offers.get(issue.code))}
                       for issue in issues],
            "redeemed": jsonable(repo.redemptions_of(r.customer.id))}


def _offer(coupon: Any) -> dict[str, Any] | None:
    if coupon is None:
        return None
    return {name: jsonable(getattr(coupon, name)) for name in _OFFER_FIELDS}


def _referrals(r: Reading) -> dict[str, Any]:
    repo, customer_id = r.uow.referrals, r.customer.id
    return {"codes": repo.codes_of(customer_id),
            "as_referrer": jsonable(repo.by_referrer(customer_id)),
            "as_referee": jsonable(repo.of_referee(customer_id))}


def _segments(r: Reading) -> dict[str, Any]:
    repo = r.uow.segments
    return {"memberships": _named(repo.memberships_of(r.customer.id), repo.get,
                                  "segment_id", "segment_name"),
            "changes": jsonable(repo.history_of(r.customer.id))}


def _campaigns(r: Reading) -> dict[str, Any]:
    repo = r.uow.campaigns
    return {"memberships": _named(repo.memberships_of(r.customer.id), repo.get,
                                  "campaign_id", "campaign_name")}


def _messages(r: Reading) -> list[Any]:
    return jsonable(_messages_of(r))


def _messages_of(r: Reading) -> list[Any]:
    """The customer's outbox messages, oldest first (read once per export)."""
    if "messages" not in r.memo:
        r.memo["messages"] = all_pages(lambda before, limit: r.uow.outbox.timeline(
            r.customer.id, before=before, limit=limit), lambda m: (m.created_at, m.id))
    return r.memo["messages"]


def _journeys(r: Reading) -> dict[str, Any]:
    repo = r.uow.journeys
    return {"enrollments": _named(repo.enrollments_of(r.customer.id), repo.get,
                                  "journey_id", "journey_name")}


def _audit(r: Reading) -> list[Any]:
    """The audit entries of the customer and of every id merged into it, oldest first."""
    query = AuditQuery(customer_ids=customer_family(r.uow, r.customer.id), limit=PAGE)
    entries: list[AuditEntry] = []
    while True:
        page = r.uow.audit.entries(query)
        entries.extend(page)
        if len(page) < PAGE:
            return jsonable(entries)
        query = attrs.evolve(query, after=(page[-1].at, page[-1].id))


def _erasures(r: Reading) -> list[Any]:
    return jsonable(r.uow.privacy.redactions(r.customer.id))


def _named(items: list[Any], get: Callable[[str], Any], link: str, key: str
           ) -> list[dict[str, Any]]:
    """Each item as JSON with the name of the segment, campaign or journey its ``link``
    field names, under ``key`` (None when that one is gone)."""
    found = {item_id: get(item_id) for item_id in sorted({getattr(i, link) for i in items})}
    names = {item_id: parent.name for item_id, parent in found.items() if parent is not None}
    return [{**jsonable(item), key: names.get(getattr(item, link))} for item in items]


#: The document's sections, in order. Each names the tables it covers.
SECTIONS: tuple[Section, ...] = (
    Section("profile", ("ecrm_customers",), _profile, context=("ecrm_accounts",)),
    Section("merged_customers", ("ecrm_customer_merges",), _merged_customers),
    Section("consents", ("ecrm_consents", "ecrm_consent_changes"), _consents),
    # The list is kept by address, not by customer: the customer's own addresses are
    # looked up in it.
    Section("suppressions", (), _suppressions, context=("ecrm_suppressions",)),
    Section("orders", ("ecrm_orders", "ecrm_order_lines", "ecrm_refunds"), _orders),
    Section("interactions", ("ecrm_interactions",), _interactions),
    Section("cases", ("ecrm_cases", "ecrm_case_orders", "ecrm_case_status_changes",
                      "ecrm_case_messages", "ecrm_sla_breaches", "ecrm_case_surveys"), _cases),
    Section("loyalty", ("ecrm_point_transactions", "ecrm_point_entries",
                        "ecrm_point_lot_uses", "ecrm_point_lots", "ecrm_tier_status",
                        "ecrm_tier_changes"), _loyalty),
    Section("coupons", ("ecrm_coupon_issues", "ecrm_coupon_redemptions"), _coupons,
            context=("ecrm_coupons",)),
    Section("referrals", ("ecrm_referral_codes", "ecrm_referrals"), _referrals),
    Section("segments", ("ecrm_segment_members", "ecrm_segment_changes"), _segments,
            context=("ecrm_segments",)),
    Section("campaigns", ("ecrm_campaign_members",), _campaigns, context=("ecrm_campaigns",)),
    Section("messages", ("ecrm_outbox",), _messages),
    Section("journeys", ("ecrm_journey_enrollments",), _journeys, context=("ecrm_journeys",)),
    Section("audit", ("ecrm_audit_log",), _audit),
    Section("erasures", ("ecrm_redactions",), _erasures),
)

#: Tables that refer to a customer (directly or through an order) and are left out of the
#: export on purpose, with the reason.
NOT_EXPORTED: Mapping[str, str] = {
    # Bookkeeping of a mined recommendation model: which order ids it has counted. The
    # orders themselves are in the "orders" section; the model's counts are the shop's
    # aggregates over every customer, not data about this one.
    "ecrm_association_orders": "which orders a mined association model has counted",
}
