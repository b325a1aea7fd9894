"""PostgreSQL row-level security: the database keeps tenants apart even from a statement
that forgets its tenant.

The server tests work in a schema and a login role of their own (both dropped at the
end), so the shared test database's tables are never touched: the superuser creates
ecrm's tables there and turns the policies on; ecrm runs as the role, which owns nothing
and may only read and write the data.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, text

from ecrm import CRM
from ecrm.backends.sql import SQLBackend, make_engine, metadata
from ecrm.backends.sql.row_security import (
    POLICY,
    disable_row_security,
    enable_row_security,
    no_row_security_ddl,
    row_security_ddl,
)
from ecrm.backends.sql.tables import customers
from ecrm.errors import BackendError, ValidationError
from ecrm.testing.conformance.tenancy import TenancyContract
from ecrm.testing.conformance.tenant_isolation import TenantIsolationContract
from ecrm.testing.row_security import SecuredSchema, secured_schema
from tests.servers import server_engine, server_url
from tests.workload import exercise_everything


def test_the_policies_cover_every_table() -> None:
    ddl = row_security_ddl()
    for table in metadata.sorted_tables:
        assert f"ALTER TABLE {table.name} ENABLE ROW LEVEL SECURITY" in ddl
        assert (f"CREATE POLICY {POLICY} ON {table.name} USING (tenant_id = "
                "current_setting('ecrm.tenant_id', true)) WITH CHECK (tenant_id = "
                "current_setting('ecrm.tenant_id', true))") in ddl
    assert f"ALTER TABLE {metadata.sorted_tables[0].name} FORCE ROW LEVEL SECURITY" in (
        row_security_ddl(force=True))
    assert len(no_row_security_ddl()) == 3 * len(metadata.sorted_tables)


def test_row_level_security_needs_postgresql(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'rls.db'}")
    with pytest.raises(ValidationError) as refused:
        SQLBackend(engine, row_level_security=True)
    assert refused.value.field == "row_level_security"
    with pytest.raises(ValidationError, match="PostgreSQL"):
        SQLBackend.from_url(f"sqlite:///{tmp_path / 'other.db'}", row_level_security=True)
    with pytest.raises(ValidationError, match="PostgreSQL"):
        enable_row_security(engine)
    assert SQLBackend(engine).row_level_security is False


@pytest.fixture(scope="module")
def secured() -> Iterator[SecuredSchema]:
    server_engine("postgres").dispose()  # reachable, or skip (fail in CI)
    with secured_schema(server_url("postgres")) as schema:
        yield schema


def count_all(secured: SecuredSchema) -> int:
    """Every customer row, of every tenant (the superuser bypasses the policies)."""
    with secured.owner.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ecrm_customers")).scalar_one()


def two_tenants(backend: SQLBackend) -> tuple[CRM, CRM]:
    run = uuid.uuid4().hex[:8]
    return CRM(backend, tenant=f"a-{run}"), CRM(backend, tenant=f"b-{run}")


def raw_count(backend: SQLBackend, tenant: str) -> int:
    """``count(*)`` of ecrm_customers with no tenant predicate, in a unit of ``tenant``."""
    with backend.unit_of_work(tenant, read_only=True) as uow:
        query = text("SELECT count(*) FROM ecrm_customers")
        return uow.connection.execute(query).scalar_one()


@pytest.mark.postgres
def test_a_unit_of_work_sees_only_its_tenants_rows(secured: SecuredSchema) -> None:
    backend = secured.backend()
    a, b = two_tenants(backend)
    for n in range(3):
        a.customers.create(email=f"{n}@example.com")
    b.customers.create(email="0@example.com")
    assert raw_count(backend, a.tenant) == 3
    assert raw_count(backend, b.tenant) == 1
    assert count_all(secured) >= 4


@pytest.mark.postgres
def test_a_row_of_another_tenant_cannot_be_written(secured: SecuredSchema) -> None:
    backend = secured.backend()
    a, b = two_tenants(backend)
    theirs = b.customers.create(name="B")
    before = count_all(secured)
    planted = insert(customers).values(
        tenant_id=b.tenant, id=str(uuid.uuid4()), name="planted", attributes={},
        created_at=theirs.created_at, updated_at=theirs.created_at)
    with (pytest.raises(BackendError, match="row-level security"),
          backend.unit_of_work(a.tenant) as uow):
        uow.connection.execute(planted)
    with backend.unit_of_work(a.tenant) as uow:
        touched = uow.connection.execute(
            text("UPDATE ecrm_customers SET name = 'hijacked' WHERE id = :id"),
            {"id": theirs.id}).rowcount
    assert touched == 0
    assert count_all(secured) == before
    assert b.customers.get(theirs.id) == theirs


@pytest.mark.postgres
def test_without_a_tenant_nothing_is_visible_or_writable(secured: SecuredSchema) -> None:
    a, _ = two_tenants(secured.backend())
    a.customers.create(name="A")
    with secured.app.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ecrm_customers")).scalar_one() == 0
    # ecrm without the switch on the same role: its reads find nothing, its writes fail.
    blind = CRM(SQLBackend(secured.app), tenant=a.tenant)
    assert blind.customers.list().items == []
    with pytest.raises(BackendError, match="row-level security"):
        blind.customers.create(name="no tenant set")


@pytest.mark.postgres
def test_every_operation_works_under_row_level_security(secured: SecuredSchema) -> None:
    backend = secured.backend()
    a, b = two_tenants(backend)
    exercise_everything(a)
    exercise_everything(b)
    assert raw_count(backend, a.tenant) == raw_count(backend, b.tenant) > 0
    assert a.orders.summaries().keys().isdisjoint(b.orders.summaries().keys())


@pytest.mark.postgres
def test_the_host_connection_mode_names_the_tenant_too(secured: SecuredSchema) -> None:
    run = uuid.uuid4().hex[:8]
    with secured.app.connect() as conn:
        crm = CRM(SQLBackend(conn, row_level_security=True), tenant=f"host-{run}")
        made = crm.customers.create(email="host@example.com")
        other = CRM(SQLBackend(conn, row_level_security=True), tenant=f"other-{run}")
        assert other.customers.find(email="host@example.com") is None
        assert crm.customers.get(made.id) == made
        conn.commit()
    assert raw_count(secured.backend(), f"host-{run}") == 1


@pytest.mark.postgres
def test_the_policies_can_be_turned_off_again(secured: SecuredSchema) -> None:
    with secured.owner.begin() as conn:
        disable_row_security(conn)
        off = conn.execute(text("SELECT count(*) FROM pg_policies WHERE policyname = :p "
                                "AND schemaname = current_schema()"), {"p": POLICY})
        assert off.scalar_one() == 0
        enable_row_security(conn)
        on = conn.execute(text("SELECT count(*) FROM pg_policies WHERE policyname = :p "
                               "AND schemaname = current_schema()"), {"p": POLICY})
        assert on.scalar_one() == len(metadata.sorted_tables)


@pytest.mark.postgres
class TestIsolationUnderRowSecurity(TenancyContract, TenantIsolationContract):
    """The tenancy contracts, with the policies on and ecrm as a plain role."""

    @pytest.fixture
    def backend(self, secured: SecuredSchema) -> SQLBackend:
        return secured.backend()
