"""Every column wide enough to hold personal text is either erased by
``crm.privacy.erase`` or kept on purpose, with the reason written here.

A new free-text or JSON column fails this test until someone decides which it is; the
canary scan in ``ecrm.testing.conformance.erasure`` then proves the decision on every
backend.
"""

from __future__ import annotations

from sqlalchemy import Column, String, Text

from ecrm.backends.sql import metadata
from ecrm.backends.sql.privacy import ERASED_COLUMNS, ERASED_THROUGH_PARENT
from ecrm.backends.sql.types import JSONDocument, Key
from ecrm.domain.customers import Customer

#: Tables erasure handles as a whole: the profile is rewritten by ``erased_customer``,
#: merge snapshots likewise, consent rows and the person's suppression entries deleted.
WHOLE_ROWS = {"ecrm_customers", "ecrm_customer_merges", "ecrm_consents", "ecrm_suppressions"}

#: Wide columns erasure keeps, and why they hold no personal data.
KEPT = {
    "ecrm_accounts.name": "a B2B account is a company, not a person",
    "ecrm_accounts.external_id": "the host's id of the company",
    "ecrm_accounts.attributes": "the company's attributes",
    "ecrm_campaigns.name": "the shop's campaign",
    "ecrm_campaigns.content": "templates and settings, the same for every recipient",
    "ecrm_coupons.tiers": "tier names",
    "ecrm_coupons.description": "the shop's description of a coupon",
    "ecrm_idempotency_keys.key": "an identifier; keep personal data out of keys",
    "ecrm_interactions.reference": "an identifier (order, message) other records use",
    "ecrm_interactions.external_id": "the channel's event id, needed to ignore redeliveries",
    "ecrm_journeys.name": "the shop's journey",
    "ecrm_journeys.definition": "trigger and steps, the same for every customer",
    "ecrm_point_transactions.reference": "an identifier (order, key) of the earning",
    "ecrm_recommendation_rules.name": "the shop's rule",
    "ecrm_recommendation_rules.if_skus": "SKUs",
    "ecrm_recommendation_rules.if_categories": "categories",
    "ecrm_recommendation_rules.suggest_skus": "SKUs",
    "ecrm_recommendation_rules.suggest_categories": "categories",
    "ecrm_redactions.removed": "counts per table",
    "ecrm_audit_log.actor": "the host's name for the staff member or system that acted",
    "ecrm_audit_log.subject_id": "an id",
    "ecrm_audit_log.customer_id": "an id",
    "ecrm_audit_log.details": "ids, field names, enum values and numbers only (audit.md)",
    "ecrm_referrals.order_id": "an order id",
    "ecrm_segments.name": "the shop's segment",
    "ecrm_segments.description": "the shop's description; keep personal data out of rules",
    "ecrm_segments.rule": "the shop's rule; keep personal data out of rules",
    "ecrm_association_itemsets.itemset": "SKUs",
    "ecrm_association_orders.order_id": "an order id",
    "ecrm_association_rules.antecedent": "SKUs",
    "ecrm_association_rules.consequent": "SKUs",
    "ecrm_campaign_members.reason": "ecrm's own reason code (no consent, suppressed, ...)",
    "ecrm_cases.tags": "identifiers such as vip",
    "ecrm_coupon_redemptions.order_id": "an order id",
    "ecrm_journey_enrollments.occasion": "ids of the occasion (order, cart, customer)",
    "ecrm_journey_enrollments.reason": "ecrm's own reason (exited on order, erased, ...)",
    "ecrm_orders.order_id": "the shop's order id",
    "ecrm_outbox.key": "an identifier; keep personal data out of keys",
    "ecrm_case_orders.order_id": "an order id",
    "ecrm_order_lines.order_id": "an order id",
    "ecrm_refunds.refund_id": "the shop's refund id",
    "ecrm_refunds.order_id": "an order id",
}


def wide(column: Column) -> bool:
    """A column that can hold free text: JSON, unbounded text, or 100 characters and more."""
    kind = column.type
    return isinstance(kind, (JSONDocument, Text)) or (
        isinstance(kind, (String, Key)) and (kind.length or 0) >= 100)


def erased() -> set[str]:
    """The columns erasure blanks, as ``table.column``."""
    columns = {f"{table.name}.{name}" for table, values in ERASED_COLUMNS.items()
               for name in values}
    columns |= {f"{table.name}.{name}" for table, _, _, _, values in ERASED_THROUGH_PARENT
                for name in values}
    return columns | {f"{t.name}.{c.name}" for t in metadata.sorted_tables
                      if t.name in WHOLE_ROWS for c in t.columns}


def test_every_wide_column_is_erased_or_kept_for_a_reason() -> None:
    wide_columns = {f"{t.name}.{c.name}" for t in metadata.sorted_tables
                    for c in t.columns if wide(c)}
    assert sorted(wide_columns - erased() - set(KEPT)) == []
    assert sorted(set(KEPT) - wide_columns) == []  # no stale entries
    assert sorted(set(KEPT) & erased()) == []


def test_the_erased_columns_exist() -> None:
    known = {f"{t.name}.{c.name}" for t in metadata.sorted_tables for c in t.columns}
    assert sorted(erased() - known) == []


def test_the_profile_keeps_only_fields_that_name_nobody() -> None:
    from datetime import datetime, timezone

    from ecrm.domain.privacy import erased_customer

    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    blank = erased_customer(Customer(id="c", created_at=now, updated_at=now,
                                     signed_up_at=now, email="a@b.example", name="n",
                                     phone="1", acquisition_channel="web",
                                     account_id="acc", attributes={"a": 1}), now)
    kept = {name for name, value in vars_of(blank).items() if value not in (None, {}, ())}
    assert kept == {"id", "created_at", "updated_at", "signed_up_at",
                    "acquisition_channel", "account_id"}


def vars_of(customer: Customer) -> dict[str, object]:
    import attrs

    return attrs.asdict(customer, recurse=False)
