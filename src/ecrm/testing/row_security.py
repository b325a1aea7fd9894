"""A throw-away PostgreSQL schema under row-level security, for tests and benchmarks.

:func:`secured_schema` makes a schema and a login role of the same fresh name, creates
ecrm's tables there as the connecting superuser, turns the policies on and grants the role
the data privileges only (see :mod:`ecrm.backends.sql.row_security`); at the end it drops
both. Nothing outside that schema is touched, so it is safe on a database that other tests
share. The new role gets a random password, so the server may trust it or ask for it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, make_url

from ecrm.backends.sql.backend import SQLBackend, make_engine
from ecrm.backends.sql.row_security import app_role_ddl, enable_row_security

_ROLE_EXISTS = text("SELECT 1 FROM pg_roles WHERE rolname = :name")


@attrs.frozen
class SecuredSchema:
    """The schema and role ``name``; ``owner`` connects as the superuser that made the
    tables (the policies do not hold it), ``app`` as the role (they do). Both engines put
    the schema first on the search path."""

    name: str
    owner: Engine
    app: Engine

    def backend(self) -> SQLBackend:
        """ecrm as the role, naming its tenant to the policies."""
        return SQLBackend(self.app, row_level_security=True)


@contextmanager
def secured_schema(url: str | URL, *, prefix: str = "ecrm_rls") -> Iterator[SecuredSchema]:
    """A :class:`SecuredSchema` in the PostgreSQL database of ``url`` (a superuser's),
    dropped with its role when the block ends."""
    base = make_url(url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    password = secrets.token_hex(16)
    path = {"options": f"-c search_path={name}"}
    admin = make_engine(base, isolation_level="AUTOCOMMIT")
    owner = make_engine(base, connect_args=path)
    app = make_engine(base.set(username=name, password=password), connect_args=path)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {name}")
            conn.exec_driver_sql(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS "
                                 f"PASSWORD '{password}'")
        SQLBackend(owner).create_schema()
        enable_row_security(owner)
        with owner.begin() as conn:
            for grant in app_role_ddl(name, schema=name):
                conn.exec_driver_sql(grant)
        yield SecuredSchema(name, owner, app)
    finally:
        app.dispose()
        owner.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            if conn.execute(_ROLE_EXISTS, {"name": name}).first() is not None:
                conn.exec_driver_sql(f"DROP OWNED BY {name}")
                conn.exec_driver_sql(f"DROP ROLE {name}")
        admin.dispose()
