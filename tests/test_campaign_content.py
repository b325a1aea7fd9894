"""The context a campaign's templates render with: only the customer fields they use."""

from __future__ import annotations

from datetime import date, datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from ecrm.domain.campaign_content import (
    CUSTOMER_FIELDS,
    CompiledVariant,
    compile_variants,
    customer_context,
)
from ecrm.domain.campaigns import Variant
from ecrm.domain.customers import Address, Customer

NOW = datetime(2026, 4, 1, 3, tzinfo=timezone.utc)
CUSTOMER = Customer(id="c-1", created_at=NOW, updated_at=NOW, signed_up_at=NOW,
                    name="山田 花子", kana_name="ヤマダ ハナコ", email="hanako@example.jp",
                    phone="090-1234-5678", birth_date=date(1990, 6, 1), gender="female",
                    address=Address(postal_code="100-0001", prefecture="東京都",
                                    city="千代田区", street="1-1"),
                    attributes={"rank": ["gold", 3], "nickname": "はな"})
PRINTABLE = sorted(CUSTOMER_FIELDS - {"attributes"})


def compiled(body: str, subject: str | None = None) -> CompiledVariant:
    return compile_variants([Variant("a", body, subject=subject)], has_coupon=False,
                            has_unsubscribe=False)[0]


def test_the_customer_fields_used_are_known_when_the_campaign_is_compiled() -> None:
    variant = compiled("{{ customer.name }} {{ customer.attributes.rank[0] }}",
                       subject="{{ customer.city | default('') }}")
    assert variant.customer_fields == {"name", "attributes", "city"}
    assert compiled("{{ campaign.name }}").customer_fields == frozenset()
    assert compiled("{% if customer %}x{% endif %}").customer_fields is None


@given(st.lists(st.sampled_from(PRINTABLE), min_size=1, max_size=4),
       st.sampled_from(["", " | upper", " | default('-')", " | truncate(3)"]))
def test_a_template_renders_the_same_with_only_the_fields_it_uses(
        fields: list[str], filters: str) -> None:
    body = " / ".join("{{ customer." + name + filters + " }}" for name in fields)
    body += " {{ customer.attributes.rank[1] }} {{ customer.attributes.nickname }}"
    variant = compiled(body)
    whole = {"customer": customer_context(CUSTOMER)}
    only = {"customer": customer_context(CUSTOMER, variant.customer_fields)}
    assert set(only["customer"]) == {*fields, "attributes"}
    assert variant.render(only) == variant.render(whole)
