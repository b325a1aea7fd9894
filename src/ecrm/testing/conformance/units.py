"""The unit of work itself: all or nothing, nested reads, and no shared mutable state."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ecrm.backends.base import Backend
from ecrm.crm import CRM
from ecrm.domain.customers import new_customer
from ecrm.domain.ids import new_id
from ecrm.testing.conformance.base import ContractBase

NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)


class Boom(Exception):
    """Raised on purpose inside a unit of work."""


class UnitOfWorkContract(ContractBase):
    """Unit-of-work behaviour every backend must show."""

    def test_a_failed_unit_leaves_no_trace(self, backend: Backend, tenant: str) -> None:
        customer = new_customer(new_id(), NOW, {"email": "gone@example.com"})
        with pytest.raises(Boom), backend.unit_of_work(tenant) as uow:
            uow.customers.add(customer)
            raise Boom
        with backend.unit_of_work(tenant, read_only=True) as uow:
            assert uow.customers.get(customer.id) is None
            assert uow.customers.find("email", "gone@example.com") is None

    def test_a_read_nested_in_a_unit_keeps_its_rollback(self, backend: Backend,
                                                        tenant: str) -> None:
        first = new_customer(new_id(), NOW, {"name": "first"})
        second = new_customer(new_id(), NOW, {"name": "second"})
        with pytest.raises(Boom), backend.unit_of_work(tenant) as uow:
            uow.customers.add(first)
            with backend.unit_of_work(tenant, read_only=True) as inner:
                inner.customers.page(after=None, limit=10, account_id=None)
            uow.customers.add(second)
            raise Boom
        with backend.unit_of_work(tenant, read_only=True) as uow:
            assert uow.customers.page(after=None, limit=10, account_id=None) == []

    def test_returned_objects_do_not_share_state_with_storage(self, crm: CRM) -> None:
        customer = crm.customers.create(attributes={"tags": ["a"], "n": {"x": 1}})
        account = crm.accounts.create(name="A", attributes={"k": "v"})
        customer.attributes["tags"].append("mutated")
        customer.attributes["n"]["x"] = 2
        account.attributes["k"] = "mutated"
        fetched = crm.customers.get(customer.id)
        assert fetched.attributes == {"tags": ["a"], "n": {"x": 1}}
        fetched.attributes["new"] = True
        assert crm.customers.get(customer.id).attributes == {"tags": ["a"], "n": {"x": 1}}
        assert crm.accounts.get(account.id).attributes == {"k": "v"}
