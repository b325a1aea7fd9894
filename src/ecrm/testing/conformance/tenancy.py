"""Two tenants in one backend never see each other's rows."""

from __future__ import annotations

import pytest

from ecrm.backends.base import Backend
from ecrm.crm import CRM
from ecrm.errors import NotFound
from ecrm.testing.conformance.base import ContractBase, record


class TenancyContract(ContractBase):
    """Tenant isolation every backend must show."""

    @pytest.fixture
    def neighbour(self, backend: Backend, tenant: str, clock) -> CRM:
        return CRM(backend, tenant=f"{tenant}-n", clock=clock)

    def test_tenants_do_not_see_each_other(self, crm: CRM, neighbour: CRM) -> None:
        mine = crm.customers.create(email="same@example.com", external_id="E1")
        theirs = neighbour.customers.create(email="same@example.com", external_id="E1")
        assert crm.customers.find(email="same@example.com") == mine
        assert neighbour.customers.find(external_id="E1") == theirs
        with pytest.raises(NotFound):
            neighbour.customers.get(mine.id)
        assert crm.customers.list().items == [mine]
        with pytest.raises(NotFound):
            neighbour.orders.summary(mine.id)

    def test_order_ids_are_per_tenant(self, crm: CRM, neighbour: CRM) -> None:
        mine = crm.customers.create(name="m")
        theirs = neighbour.customers.create(name="t")
        record(crm, "SAME", mine.id, days=0)
        record(neighbour, "SAME", theirs.id, days=3)
        assert crm.orders.get("SAME").customer_id == mine.id
        assert neighbour.orders.get("SAME").customer_id == theirs.id
        assert set(crm.orders.summaries()) == {mine.id}

    def test_cross_tenant_writes_are_refused(self, crm: CRM, neighbour: CRM) -> None:
        mine = crm.customers.create(name="m")
        theirs = neighbour.customers.create(name="t")
        with pytest.raises(NotFound):
            crm.customers.update(theirs.id, name="hijacked")
        with pytest.raises(NotFound):
            crm.customers.merge(mine.id, theirs.id)
        record(neighbour, "N", theirs.id)
        with pytest.raises(NotFound):
            crm.orders.cancel("N")
        assert neighbour.customers.get(theirs.id) == theirs
