"""ecrm on Django's own database connection, inside Django's own transactions.

ecrm joins a host's transaction when given a SQLAlchemy ``Connection`` (see the
embedding docs). Django has no SQLAlchemy connection, so :func:`engine_for` builds an
engine whose only connection is the DB-API connection Django holds, lent through
:class:`LentConnection`: SQLAlchemy runs its statements (and ecrm its SAVEPOINTs) on it,
but the transaction and the connection stay Django's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

import ecrm
from ecrm.backends.sql import SQLBackend, migrations


class LentConnection:
    """Django's DB-API connection as SQLAlchemy sees it: statements pass through, while
    ``commit``, ``rollback`` and ``close`` do nothing, because Django commits, rolls back
    and closes its connection itself."""

    #: The SQLAlchemy URL naming the dialect, and options of engines over this driver.
    dialect_url = "sqlite+pysqlite://"
    engine_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, dbapi_connection: Any) -> None:
        self._dbapi_connection = dbapi_connection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dbapi_connection, name)

    def commit(self) -> None:
        """Django commits (SQLAlchemy's commit only delivers ecrm's notifications)."""

    def rollback(self) -> None:
        """Django rolls back."""

    def close(self) -> None:
        """Django closes its connection."""


class LentPsycopgConnection(LentConnection):
    """A lent psycopg 3 connection: ``jsonb`` decoded as SQLAlchemy expects, and nothing
    of SQLAlchemy's left on Django's connection."""

    dialect_url = "postgresql+psycopg://"
    # SQLAlchemy's hstore set-up needs psycopg's own Connection class, not a proxy.
    engine_options: ClassVar[dict[str, Any]] = {"use_native_hstore": False}

    def __init__(self, dbapi_connection: Any) -> None:
        super().__init__(dbapi_connection)
        self._notice_handlers: list[Callable[..., None]] = []

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        """A cursor that decodes ``jsonb`` (Django's cursors return it as text and let
        its JSONField decode; SQLAlchemy leaves decoding to the driver)."""
        from psycopg.types.json import JsonbLoader

        cursor = self._dbapi_connection.cursor(*args, **kwargs)
        cursor.adapters.register_loader("jsonb", JsonbLoader)
        return cursor

    def add_notice_handler(self, handler: Callable[..., None]) -> None:
        """SQLAlchemy adds a handler to every connection it opens; it is removed again
        when SQLAlchemy is done with the connection, so Django's does not collect them."""
        self._dbapi_connection.add_notice_handler(handler)
        self._notice_handlers.append(handler)

    def close(self) -> None:
        """Remove SQLAlchemy's notice handlers; Django closes its connection itself."""
        for handler in self._notice_handlers:
            self._dbapi_connection.remove_notice_handler(handler)
        self._notice_handlers.clear()


#: How to lend the connection of each DB-API module Django may use (``Database``).
LENT_CONNECTIONS = {"sqlite3": LentConnection, "psycopg": LentPsycopgConnection}


@functools.cache
def engine_for(alias: str = DEFAULT_DB_ALIAS) -> Engine:
    """A SQLAlchemy engine over Django's database ``alias``: each connection it hands out
    is the DB-API connection Django's ``connections[alias]`` holds in the calling thread."""
    database = connections[alias]
    driver = database.Database.__name__.partition(".")[0]  # "sqlite3.dbapi2"
    if driver not in LENT_CONNECTIONS:
        raise ImproperlyConfigured(f"the ecrm bridge supports {sorted(LENT_CONNECTIONS)}, "
                                   f"not Django's {driver!r} driver")
    if driver == "sqlite3" and database.settings_dict["OPTIONS"].get("detect_types") != 0:
        raise ImproperlyConfigured(
            f"DATABASES[{alias!r}]['OPTIONS'] needs 'detect_types': 0: Django's default "
            "turns DATETIME columns into datetimes, SQLAlchemy expects SQLite's text")
    lent = LENT_CONNECTIONS[driver]

    def lend() -> LentConnection:
        connection = connections[alias]
        connection.ensure_connection()
        return lent(connection.connection)

    # NullPool keeps nothing: every connect() calls lend() again, so SQLAlchemy always
    # gets the connection Django has now (Django reconnects per request, or after
    # CONN_MAX_AGE). With reset_on_return=None, giving it back sends no ROLLBACK; the
    # ROLLBACK that ends the dialect's first-connect checks goes to LentConnection.
    return create_engine(lent.dialect_url, creator=lend, poolclass=NullPool,
                         pool_reset_on_return=None, **lent.engine_options)


@contextmanager
def crm_transaction(*, using: str = DEFAULT_DB_ALIAS) -> Iterator[ecrm.CRM]:
    """``transaction.atomic(using=using)`` with a CRM whose writes belong to it.

    The shop's ORM writes and ecrm's calls inside the block land together when it
    commits, and roll back together when it raises. Each ecrm call runs in a SAVEPOINT,
    so a failed call (a ``ValidationError``, say) leaves the block usable. ecrm's
    plugin notifications (``ecrm_order_recorded``, ...) run after Django's commit and
    are dropped on a rollback.

    The block is durable (the outermost atomic block), because the notifications follow
    its commit. Inside a nested ``atomic()`` that rolls back, ecrm's rows go but its
    notifications still come with the outer commit.
    """
    connection = engine_for(using).connect()
    crm = ecrm.CRM(SQLBackend(connection), tenant=settings.ECRM_TENANT,
                   plugins=settings.ECRM_PLUGINS)
    with connection, crm, transaction.atomic(using=using, durable=True):
        # SQLAlchemy's commit event delivers ecrm's notifications; leaving the `with`
        # without it (after a rollback) drops them.
        transaction.on_commit(connection.commit, using=using)
        yield crm


def upgrade_ecrm_schema(using: str = DEFAULT_DB_ALIAS) -> None:
    """Bring ecrm's tables on Django's database ``using`` to ecrm's newest schema, in
    one transaction (ecrm's Alembic migrations, recorded in ``ecrm_alembic_version``)."""
    with engine_for(using).connect() as connection, transaction.atomic(using=using):
        migrations.upgrade(connection)
