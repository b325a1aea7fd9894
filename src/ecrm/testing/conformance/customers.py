"""Customers and accounts: what was written comes back unchanged, and the rules hold."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from ecrm.crm import CRM
from ecrm.domain.customers import Address
from ecrm.errors import ConflictError, NotFound, ValidationError
from ecrm.testing.conformance.base import JST, ContractBase, record, snapshot

FULL = dict(
    email="Hanako.Yamada@Example.jp", name="山田 花子", kana_name="ヤマダ ハナコ",
    phone="+81 90-1234-5678", external_id="shop-42", birth_date=date(1990, 5, 17),
    gender="female", acquisition_channel="line",
    address={"postal_code": "150-0001", "prefecture": "東京都", "city": "渋谷区",
             "street": "神宮前1-2-3", "building": "ハイツ 101"},
    attributes={"newsletter": True, "sizes": ["M", "L"], "score": 4.5, "nested": {"a": 1}},
    signed_up_at=datetime(2025, 12, 24, 20, 15, 30, 123456, tzinfo=JST),
)


class CustomerContract(ContractBase):
    """Customer and account behaviour every backend must show."""

    def test_create_then_get_returns_every_field_unchanged(self, crm: CRM) -> None:
        created = crm.customers.create(**FULL)
        assert created.email == "hanako.yamada@example.jp"
        assert created.address == Address(postal_code="150-0001", prefecture="東京都",
                                          city="渋谷区", street="神宮前1-2-3",
                                          building="ハイツ 101", country="JP")
        assert crm.customers.get(created.id) == created
        assert crm.customers.get(created.id).signed_up_at == FULL["signed_up_at"]

    def test_minimal_customer_defaults(self, crm: CRM) -> None:
        created = crm.customers.create()
        assert created.attributes == {} and created.address is None
        assert created.signed_up_at == created.created_at == crm.clock.now()
        assert crm.customers.get(created.id) == created

    def test_find_by_email_is_case_insensitive_and_by_external_id(self, crm: CRM) -> None:
        created = crm.customers.create(email="a@example.com", external_id="X1")
        assert crm.customers.find(email=" A@EXAMPLE.com ") == created
        assert crm.customers.find(external_id="X1") == created
        assert crm.customers.find(email="nobody@example.com") is None
        assert crm.customers.find(external_id="x1") is None  # external ids are exact

    def test_find_needs_exactly_one_well_formed_key(self, crm: CRM) -> None:
        with pytest.raises(ValidationError):
            crm.customers.find()
        with pytest.raises(ValidationError):
            crm.customers.find(email="a@example.com", external_id="1")
        with pytest.raises(ValidationError, match="email"):
            crm.customers.find(email=42)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="external_id"):
            crm.customers.find(external_id="x" * 129)

    def test_get_unknown_raises_not_found(self, crm: CRM) -> None:
        with pytest.raises(NotFound):
            crm.customers.get("00000000-0000-7000-8000-000000000000")

    @pytest.mark.parametrize("key", ["email", "external_id"])
    def test_unique_keys_conflict_and_write_nothing(self, crm: CRM, key: str) -> None:
        value = "taken@example.com" if key == "email" else "EXT-1"
        crm.customers.create(**{key: value})
        before = snapshot(crm)
        with pytest.raises(ConflictError, match=key):
            crm.customers.create(name="other", **{key: value})
        assert snapshot(crm) == before

    def test_update_changes_only_given_fields(self, crm: CRM) -> None:
        created = crm.customers.create(**FULL)
        crm.clock.advance(hours=1)
        updated = crm.customers.update(created.id, name="山田 花", phone=None,
                                       attributes={"vip": "gold"})
        assert (updated.name, updated.phone, updated.attributes) == ("山田 花", None,
                                                                     {"vip": "gold"})
        assert updated.email == created.email and updated.updated_at == crm.clock.now()
        assert updated.created_at == created.created_at
        assert crm.customers.get(created.id) == updated

    def test_update_that_changes_nothing_writes_nothing(self, crm: CRM, recorder) -> None:
        created = crm.customers.create(name="Same")
        crm.clock.advance(hours=1)
        assert crm.customers.update(created.id, name="Same") == created
        assert recorder.names() == ["customer_created"]

    def test_update_rejects_unknown_fields_and_taken_email(self, crm: CRM) -> None:
        first = crm.customers.create(email="one@example.com")
        second = crm.customers.create(email="two@example.com")
        with pytest.raises(ValidationError, match="id"):
            crm.customers.update(first.id, id="other")
        with pytest.raises(ConflictError):
            crm.customers.update(second.id, email="ONE@example.com")
        assert crm.customers.get(second.id) == second

    def test_update_unknown_customer_raises_not_found(self, crm: CRM) -> None:
        with pytest.raises(NotFound):
            crm.customers.update("missing", name="x")

    def test_list_pages_through_everyone_once_in_id_order(self, crm: CRM) -> None:
        created = [crm.customers.create(name=f"c{i}") for i in range(7)]
        seen, after = [], None
        while True:
            page = crm.customers.list(after=after, limit=3)
            seen.extend(page.items)
            if page.next_after is None:
                break
            after = page.next_after
        assert [c.id for c in seen] == sorted(c.id for c in created)
        assert list(crm.customers.iterate(batch_size=2)) == seen

    def test_list_rejects_bad_limits(self, crm: CRM) -> None:
        for limit in (0, 1001, "10"):
            with pytest.raises(ValidationError, match="limit"):
                crm.customers.list(limit=limit)  # type: ignore[arg-type]
            with pytest.raises(ValidationError, match="batch_size"):
                list(crm.customers.iterate(batch_size=limit))  # type: ignore[arg-type]

    def test_merge_moves_orders_fills_blanks_and_is_recorded(self, crm: CRM, recorder) -> None:
        survivor = crm.customers.create(email="s@example.com", name="Survivor",
                                        attributes={"a": 1, "shared": "survivor"})
        duplicate = crm.customers.create(email="d@example.com", phone="03-1234-5678",
                                         attributes={"b": 2, "shared": "duplicate"},
                                         signed_up_at=datetime(2020, 1, 1, tzinfo=JST))
        record(crm, "o-s", survivor.id, days=1)
        record(crm, "o-d", duplicate.id, days=0)
        crm.clock.advance(minutes=5)
        merged = crm.customers.merge(survivor.id, duplicate.id)
        assert merged.email == "s@example.com" and merged.phone == "03-1234-5678"
        assert merged.attributes == {"a": 1, "b": 2, "shared": "survivor"}
        assert merged.signed_up_at == datetime(2020, 1, 1, tzinfo=JST)
        assert [o.order_id for o in crm.orders.for_customer(survivor.id)] == ["o-d", "o-s"]
        assert crm.customers.get(duplicate.id) == merged == crm.customers.get(survivor.id)
        assert crm.customers.find(email="d@example.com") is None
        [merge] = crm.customers.merges(survivor.id)
        assert (merge.duplicate, merge.merged_at) == (duplicate, crm.clock.now())
        assert recorder.events[-1] == ("customers_merged", {"survivor": merged,
                                                            "duplicate_id": duplicate.id})

    def test_merge_frees_the_duplicate_email_for_the_survivor(self, crm: CRM) -> None:
        survivor = crm.customers.create(name="no email")
        duplicate = crm.customers.create(email="d@example.com")
        merged = crm.customers.merge(survivor.id, duplicate.id)
        assert merged.email == "d@example.com"
        assert crm.customers.find(email="d@example.com") == merged

    def test_merge_chains_resolve_to_the_last_survivor(self, crm: CRM) -> None:
        a, b, c = (crm.customers.create(name=n) for n in "abc")
        crm.customers.merge(b.id, a.id)
        final = crm.customers.merge(c.id, b.id)
        assert crm.customers.get(a.id) == final
        order = record(crm, "late", a.id)
        assert order.customer_id == c.id

    def test_lock_finds_a_customer_by_its_own_id_alone(self, crm: CRM) -> None:
        survivor, duplicate = crm.customers.create(), crm.customers.create()
        crm.customers.merge(survivor.id, duplicate.id)
        with crm.backend.unit_of_work(crm.tenant) as uow:
            assert uow.customers.lock(survivor.id) is True
            assert uow.customers.lock(duplicate.id) is False  # callers follow the merge
            assert uow.customers.lock("missing") is False
        with crm.backend.unit_of_work("another-tenant") as uow:
            assert uow.customers.lock(survivor.id) is False

    def test_merge_refuses_self_and_unknown(self, crm: CRM) -> None:
        a = crm.customers.create(name="a")
        with pytest.raises(ValidationError):
            crm.customers.merge(a.id, a.id)
        before = snapshot(crm)
        with pytest.raises(NotFound):
            crm.customers.merge(a.id, "missing")
        assert snapshot(crm) == before

    def test_accounts_group_customers(self, crm: CRM) -> None:
        account = crm.accounts.create(name="株式会社サンプル", external_id="B2B-1",
                                      attributes={"terms": "net30"})
        assert crm.accounts.get(account.id) == account
        assert crm.accounts.find(external_id="B2B-1") == account
        member = crm.customers.create(name="buyer", account_id=account.id)
        crm.customers.create(name="consumer")
        assert crm.customers.list(account_id=account.id).items == [member]
        crm.clock.advance(hours=1)
        assert crm.accounts.update(account.id, name="株式会社サンプル") == account  # no change
        renamed = crm.accounts.update(account.id, name="Sample KK")
        assert crm.accounts.get(account.id) == renamed and renamed.name == "Sample KK"
        assert renamed.updated_at == crm.clock.now() and renamed.created_at == account.created_at

    def test_account_rules(self, crm: CRM) -> None:
        crm.accounts.create(name="A", external_id="dup")
        with pytest.raises(ConflictError):
            crm.accounts.create(name="B", external_id="dup")
        with pytest.raises(ValidationError, match="name"):
            crm.accounts.create(name=" ")
        with pytest.raises(NotFound):
            crm.accounts.get("missing")
        with pytest.raises(ValidationError, match="account_id"):
            crm.customers.create(account_id="missing")

    def test_timestamps_follow_the_injected_clock(self, crm: CRM) -> None:
        crm.clock.advance(timedelta(days=3))
        created = crm.customers.create(name="x")
        assert created.created_at == crm.clock.now()
