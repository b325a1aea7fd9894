"""ecrm's Alembic migrations: an empty database upgraded to head has exactly the schema of
``ecrm.backends.sql.tables.metadata`` on SQLite, PostgreSQL and MariaDB/MySQL.

Server tests never touch the shared ``test`` database: each test creates its own database
(``ecrm_migrations_<random>``) and drops it afterwards.
"""

from __future__ import annotations

import io
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine.reflection import Inspector

import ecrm
from ecrm.backends.sql import SQLBackend, make_engine, migrations
from ecrm.backends.sql.tables import metadata
from ecrm.domain.customers import new_customer
from ecrm.domain.ids import new_id
from tests.servers import server_database

KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mysql),
]
ECRM_TABLES = set(metadata.tables)

NewDatabase = Callable[[], Engine]


def head() -> str:
    """The single head revision of ecrm's script directory."""
    head = ScriptDirectory(migrations.SCRIPT_LOCATION).get_current_head()
    assert head is not None
    return head


@contextmanager
def empty_database(kind: str, directory: Path) -> Iterator[Engine]:
    """An engine on a new, empty database of ``kind``, dropped afterwards."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{directory / secrets.token_hex(4)}.db")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with server_database(kind) as engine:
        yield engine


@pytest.fixture(params=KINDS)
def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewDatabase]:
    """Makes empty databases of one kind; all are dropped after the test."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(empty_database(request.param, tmp_path))


@pytest.fixture
def engine(new_database: NewDatabase) -> Engine:
    """One empty database."""
    return new_database()


def table_names(engine: Engine) -> set[str]:
    """Every table in the engine's database."""
    return set(inspect(engine).get_table_names())


def schema_snapshot(engine: Engine, tables: set[str] = ECRM_TABLES) -> dict[str, Any]:
    """What the database says about ``tables``: columns (types with collations), keys,
    indexes, constraints and table options such as MySQL's charset and engine."""
    inspector = inspect(engine)
    return {name: table_snapshot(inspector, name) for name in sorted(tables)}


def table_snapshot(inspector: Inspector, name: str) -> dict[str, Any]:
    """One table as reflected, in a form that compares equal for equal schemas."""
    def by_name(items: list[Any]) -> list[Any]:
        return sorted(items, key=lambda item: str(item.get("name")))

    return {
        "columns": [{**column, "type": repr(column["type"])}
                    for column in inspector.get_columns(name)],
        "primary_key": inspector.get_pk_constraint(name),
        "foreign_keys": by_name(inspector.get_foreign_keys(name)),
        "indexes": by_name(inspector.get_indexes(name)),
        "unique": by_name(inspector.get_unique_constraints(name)),
        "checks": by_name(inspector.get_check_constraints(name)),
        "options": inspector.get_table_options(name),
    }


def version_rows(engine: Engine, table: str) -> set[str]:
    """The revisions recorded in version table ``table``."""
    with engine.connect() as conn:
        return set(conn.execute(text(f"SELECT version_num FROM {table}")).scalars())


def test_script_directory_is_one_labelled_branch() -> None:
    script = ScriptDirectory(migrations.SCRIPT_LOCATION)
    assert len(script.get_heads()) == 1
    (base,) = script.get_bases()
    assert script.get_revision(base).branch_labels == {migrations.BRANCH_LABEL}
    assert script.get_revision("ecrm@head").revision == head()


def test_upgraded_empty_database_matches_metadata(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "version_table": migrations.VERSION_TABLE,
            "compare_type": True,
            "compare_server_default": True,
        })
        assert compare_metadata(context, metadata) == []


def test_upgrade_builds_the_schema_create_all_builds(new_database: NewDatabase) -> None:
    migrated, created = new_database(), new_database()
    migrations.upgrade(migrated)
    SQLBackend(created).create_schema()
    assert table_names(migrated) == ECRM_TABLES | {migrations.VERSION_TABLE}
    assert schema_snapshot(migrated) == schema_snapshot(created)


def test_version_table_is_ecrms_own_and_holds_head(engine: Engine) -> None:
    assert migrations.current(engine) is None
    migrations.upgrade(engine)
    assert migrations.current(engine) == head()
    assert "alembic_version" not in table_names(engine)
    assert version_rows(engine, migrations.VERSION_TABLE) == {head()}


def test_upgrade_again_changes_nothing(engine: Engine) -> None:
    migrations.upgrade(engine)
    before = schema_snapshot(engine)
    migrations.upgrade(engine)
    assert migrations.current(engine) == head()
    assert schema_snapshot(engine) == before


def test_downgrade_to_base_removes_every_ecrm_table(engine: Engine) -> None:
    migrations.upgrade(engine)
    migrations.downgrade(engine, "base")
    assert table_names(engine) <= {migrations.VERSION_TABLE}
    assert migrations.current(engine) is None
    migrations.upgrade(engine)
    assert migrations.current(engine) == head()


def test_crm_works_on_a_migrated_database(engine: Engine) -> None:
    migrations.upgrade(engine)
    crm = ecrm.CRM(SQLBackend(engine), tenant="t")
    alice = crm.customers.create(email="alice@example.com", name="Ålice 🎉 山田")
    placed = datetime.fromisoformat("2024-05-01T12:30:15.123456+00:00")
    crm.orders.record(order_id="o-1", customer_id=alice.id, placed_at=placed, channel="web",
                      currency="JPY", lines=[ecrm.OrderLine("sku-1", 2, Decimal(1500))])
    assert crm.customers.get(alice.id) == alice
    assert crm.customers.find(email="alice@example.com") == alice
    order = crm.orders.get("o-1")
    assert (order.customer_id, order.placed_at, order.total) == (alice.id, placed, Decimal(3000))
    assert crm.orders.for_customer(alice.id) == [order]


def test_upgrade_on_an_idle_connection_commits(engine: Engine) -> None:
    with engine.connect() as conn:
        migrations.upgrade(conn)
    assert migrations.current(engine) == head()
    assert table_names(engine) >= ECRM_TABLES


def test_upgrade_joins_the_callers_transaction(engine: Engine) -> None:
    if engine.dialect.name == "mysql":
        pytest.skip("MySQL/MariaDB commit every DDL statement implicitly")
    with engine.connect() as conn:
        transaction = conn.begin()
        migrations.upgrade(conn)
        assert migrations.current(conn) == head()
        transaction.rollback()
    assert migrations.current(engine) is None
    assert table_names(engine) == set()


def test_bind_must_be_an_engine_or_a_connection() -> None:
    with pytest.raises(TypeError, match="Engine or a Connection"):
        migrations.upgrade("sqlite://")  # type: ignore[arg-type]


def ecrm_config(**options: str) -> Config:
    """A config for ecrm's own script directory, as the ``alembic`` command line builds."""
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", migrations.SCRIPT_LOCATION)
    for key, value in options.items():
        config.set_main_option(key, value)
    return config


def test_command_line_upgrade_from_a_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    command.upgrade(ecrm_config(**{"sqlalchemy.url": url}), "ecrm@head")
    engine = make_engine(url)
    try:
        assert migrations.current(engine) == head()
    finally:
        engine.dispose()


@pytest.mark.parametrize(("url", "dialect_detail"), [
    ("sqlite://", "CREATE TABLE ecrm_accounts"),
    ("postgresql+psycopg://", 'COLLATE "C"'),
    ("mysql+pymysql://", "COLLATE utf8mb4_bin"),
])
def test_offline_mode_prints_the_ddl(url: str, dialect_detail: str) -> None:
    config = ecrm_config(**{"sqlalchemy.url": url})
    command.upgrade(config, "heads", sql=True)
    sql = config.output_buffer.getvalue()  # type: ignore[union-attr]
    assert all(f"CREATE TABLE {table} " in sql for table in ECRM_TABLES)
    assert f"INSERT INTO {migrations.VERSION_TABLE}" in sql
    assert dialect_detail in sql


HOST_ENV = '''
import sqlalchemy as sa
from alembic import context

# A naming convention unlike ecrm's: ecrm's revisions must keep their own names.
target_metadata = sa.MetaData(naming_convention={
    "pk": "host_pk_%(table_name)s", "ix": "host_ix_%(column_0_label)s",
    "uq": "host_uq_%(table_name)s_%(column_0_name)s",
    "fk": "host_fk_%(table_name)s_%(column_0_name)s"})
engine = sa.create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
'''

HOST_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "host_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("shop_products", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("shop_products")
'''


def host_project(directory: Path, separator: str, ecrm_location: str) -> Config:
    """A host's Alembic project whose ``version_locations`` lists ecrm's revisions."""
    (directory / "migrations" / "versions").mkdir(parents=True)
    (directory / "migrations" / "env.py").write_text(HOST_ENV)
    (directory / "migrations" / "versions" / "host_0001.py").write_text(HOST_REVISION)
    char = {"os": ":", ";": ";"}[separator]
    (directory / "alembic.ini").write_text(
        "[alembic]\n"
        "script_location = %(here)s/migrations\n"
        f"path_separator = {separator}\n"
        f"version_locations = %(here)s/migrations/versions{char}{ecrm_location}\n"
        f"sqlalchemy.url = sqlite:///{directory / 'host.db'}\n"
    )
    return Config(str(directory / "alembic.ini"))


@pytest.mark.skipif(sys.platform == "win32", reason="path_separator = os is ';' on Windows")
@pytest.mark.parametrize(("separator", "ecrm_location"), [
    ("os", migrations.VERSIONS_LOCATION),
    (";", "ecrm.backends.sql.migrations:versions"),
])
def test_host_alembic_runs_ecrm_branch(tmp_path: Path, separator: str,
                                       ecrm_location: str) -> None:
    config = host_project(tmp_path, separator, ecrm_location)
    host = make_engine(f"sqlite:///{tmp_path / 'host.db'}")
    try:
        command.upgrade(config, "ecrm@head")
        assert table_names(host) == ECRM_TABLES | {"alembic_version"}
        assert version_rows(host, "alembic_version") == {head()}
        command.upgrade(config, "heads")
        assert version_rows(host, "alembic_version") == {head(), "host_0001"}
        with empty_database("sqlite", tmp_path) as reference:
            SQLBackend(reference).create_schema()
            assert schema_snapshot(host) == schema_snapshot(reference)
    finally:
        host.dispose()


def test_importing_ecrm_does_not_import_alembic() -> None:
    code = ("import sys, ecrm, ecrm.backends.sql, ecrm.backends.sql.migrations; "
            "sys.exit('alembic' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_consent_purposes_keep_earlier_decisions(engine: Engine) -> None:
    """ecrm_0012 rebuilds the consent tables: earlier decisions come back as marketing
    ones (grants single opt-in), and a downgrade keeps the marketing rows."""
    migrations.upgrade(engine, "ecrm_0011")
    crm = ecrm.CRM(SQLBackend(engine), tenant="t")
    customer = new_customer(new_id(), datetime.now(timezone.utc), {"name": "Hanako"})
    with crm.backend.unit_of_work("t") as uow:  # the customers table only (no audit log yet)
        uow.customers.add(customer)
    customer_id = customer.id
    when = datetime.fromisoformat("2024-05-01T12:30:00+00:00")
    with engine.begin() as conn:
        for channel, granted in (("email", True), ("sms", False)):
            conn.execute(text(
                "INSERT INTO ecrm_consents (tenant_id, customer_id, channel, granted,"
                " changed_at, source) VALUES ('t', :customer, :channel, :granted, :at, 'form')"),
                {"customer": customer_id, "channel": channel, "granted": granted, "at": when})
            conn.execute(text(
                "INSERT INTO ecrm_consent_changes (tenant_id, id, customer_id, channel,"
                " granted, changed_at, recorded_at, source) VALUES ('t', :id, :customer,"
                " :channel, :granted, :at, :at, 'form')"),
                {"id": f"h-{channel}", "customer": customer_id, "channel": channel,
                 "granted": granted, "at": when})
    migrations.upgrade(engine)
    states = crm.consent.for_customer(customer_id)
    assert [(c.channel, c.purpose, c.granted, c.level, c.source) for c in states] == [
        ("email", "marketing", True, "single", "form"),
        ("sms", "marketing", False, None, "form")]
    assert [(c.channel, c.purpose, c.level) for c in crm.consent.history(customer_id)] == [
        ("email", "marketing", "single"), ("sms", "marketing", None)]
    crm.consent.grant(customer_id, "email", purpose="transactional")
    migrations.downgrade(engine, "ecrm_0011")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT channel, granted FROM ecrm_consents"
                                 " ORDER BY channel")).all()
    assert [(channel, bool(granted)) for channel, granted in rows] == [
        ("email", True), ("sms", False)]
