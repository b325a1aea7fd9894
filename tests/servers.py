"""Finding the PostgreSQL and MySQL/MariaDB servers the tests run against.

``ECRM_TEST_POSTGRES_URL`` and ``ECRM_TEST_MYSQL_URL`` name them. Without a URL (or with a
server that does not answer) those tests skip with the reason, unless
``ECRM_REQUIRE_SERVICES=1`` (set by CI), which turns a missing server into a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from ecrm.backends.sql import make_engine

SERVERS = {"postgres": "ECRM_TEST_POSTGRES_URL", "mysql": "ECRM_TEST_MYSQL_URL"}


def services_required() -> bool:
    """True when CI demands every server."""
    return os.environ.get("ECRM_REQUIRE_SERVICES") == "1"


def server_url(kind: str) -> str:
    """The URL of server ``kind``, or skip (fail under ECRM_REQUIRE_SERVICES=1)."""
    variable = SERVERS[kind]
    url = os.environ.get(variable)
    if not url:
        _unavailable(f"{variable} is not set; set it to run the {kind} tests")
    return url  # type: ignore[return-value]


def server_engine(kind: str, **options: object) -> Engine:
    """An engine for server ``kind`` that has answered a ``SELECT 1``."""
    url = server_url(kind)
    engine = make_engine(url, **options)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means "unavailable"
        engine.dispose()
        _unavailable(f"cannot reach {kind} at {engine.url!r}: {error}")
    return engine


@contextmanager
def server_database(kind: str, prefix: str = "ecrm_migrations") -> Iterator[Engine]:
    """A dedicated database on server ``kind`` (``<prefix>_<random>``), dropped afterwards.
    MySQL's defaults to latin1, so only the tables' own options can make it store full
    Unicode."""
    server = server_engine(kind, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{secrets.token_hex(4)}"
    charset = " CHARACTER SET latin1" if kind == "mysql" else ""
    try:
        with server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}{charset}"))
        engine = make_engine(server.url.set(database=name).render_as_string(hide_password=False))
        try:
            yield engine
        finally:
            engine.dispose()
            with server.connect() as conn:
                conn.execute(text(f"DROP DATABASE {name}"))
    finally:
        server.dispose()


def _unavailable(reason: str) -> None:
    if services_required():
        pytest.fail(f"ECRM_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)
