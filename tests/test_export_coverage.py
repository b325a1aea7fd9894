"""The customer export covers every table that refers to a customer: a new table that does
fails here until a section of ``ecrm.customer_export`` covers it or ``NOT_EXPORTED`` says
why it is left out."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKeyConstraint, MetaData, String, Table

from ecrm.backends.sql.tables import metadata
from ecrm.customer_export import NOT_EXPORTED, SECTIONS

CUSTOMERS = "ecrm_customers"
#: Columns that hold a customer id without saying so in ``info`` (merge records name
#: both customers; referrals, their two customers, are ``customer_ref`` already).
CUSTOMER_ID_NAMES = frozenset({"customer_id", "survivor_id", "duplicate_id", "referee_id",
                               "referrer_id"})
#: Columns that hold the key of a table about one customer without a foreign key to it
#: (a case may name an order the CRM has not recorded; a mined model counts order ids).
IMPLICIT_REFERENCES = {"order_id": "ecrm_orders", "case_id": "ecrm_cases",
                       "transaction_id": "ecrm_point_transactions"}


def _names_customer(table: Table) -> bool:
    if any(c.info.get("customer_ref") or c.name in CUSTOMER_ID_NAMES for c in table.columns):
        return True
    return any(fk.referred_table.name == CUSTOMERS for fk in table.foreign_key_constraints)


def _points_at(table: Table, referring: set[str]) -> bool:
    if any(fk.referred_table.name in referring for fk in table.foreign_key_constraints):
        return True
    return any(IMPLICIT_REFERENCES.get(c.name) in referring for c in table.columns)


def referring_tables(schema: MetaData = metadata) -> set[str]:
    """Every table whose rows belong to a customer: the customers, tables naming a
    customer, and tables pointing (by foreign key or by an order, case or ledger id) at
    rows of such tables, to any depth."""
    tables = schema.tables.values()
    referring = {CUSTOMERS} | {t.name for t in tables if _names_customer(t)}
    while True:
        more = {t.name for t in tables if t.name not in referring and _points_at(t, referring)}
        if not more:
            return referring
        referring |= more


def unexported(schema: MetaData = metadata) -> set[str]:
    """The tables referring to a customer that no section covers and no exclusion names."""
    return referring_tables(schema) - covered_tables() - set(NOT_EXPORTED)


def covered_tables() -> set[str]:
    return {table for section in SECTIONS for table in section.tables}


def test_every_table_that_refers_to_a_customer_is_exported_or_excluded_with_a_reason():
    missing = unexported()
    assert not missing, f"not in the export and not in NOT_EXPORTED: {sorted(missing)}"


def test_sections_and_exclusions_name_only_tables_that_refer_to_a_customer():
    stray = (covered_tables() | set(NOT_EXPORTED)) - referring_tables()
    assert not stray, f"declared but referring to no customer: {sorted(stray)}"
    assert not covered_tables() & set(NOT_EXPORTED)


def test_every_named_table_exists():
    named = covered_tables() | set(NOT_EXPORTED)
    named |= {table for section in SECTIONS for table in section.context}
    assert named <= set(metadata.tables), sorted(named - set(metadata.tables))


def test_sections_have_distinct_names_and_every_exclusion_a_reason():
    names = [section.name for section in SECTIONS]
    assert len(names) == len(set(names))
    assert all(reason.strip() for reason in NOT_EXPORTED.values())


def test_the_discovery_finds_tables_by_each_rule():
    found = referring_tables()
    assert {"ecrm_orders", "ecrm_tier_status", "ecrm_customer_merges", "ecrm_referrals",
            "ecrm_order_lines", "ecrm_point_lot_uses", "ecrm_sla_breaches",
            "ecrm_association_orders"} <= found
    assert not {"ecrm_suppressions", "ecrm_coupons", "ecrm_segments", "ecrm_campaigns",
                "ecrm_accounts"} & found


def test_a_new_table_referring_to_a_customer_is_caught():
    schema = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(schema)
    Table("ecrm_wishlists", schema, Column("tenant_id", String(64), primary_key=True),
          Column("owner", String(36), info={"customer_ref": True}))
    Table("ecrm_notes", schema, Column("tenant_id", String(64), primary_key=True),
          Column("customer_id", String(36)))
    Table("ecrm_wishlist_items", schema, Column("tenant_id", String(64), primary_key=True),
          Column("order_ref", String(128)), ForeignKeyConstraint(
              ["tenant_id", "order_ref"], ["ecrm_orders.tenant_id", "ecrm_orders.order_id"]))
    Table("ecrm_gift_cards", schema, Column("tenant_id", String(64), primary_key=True),
          Column("holder", String(36)), ForeignKeyConstraint(
              ["tenant_id", "holder"], ["ecrm_customers.tenant_id", "ecrm_customers.id"]))
    assert unexported(schema) - unexported() == {"ecrm_wishlists", "ecrm_notes",
                                                 "ecrm_wishlist_items", "ecrm_gift_cards"}
