"""Shared fixtures: backends for every database, made once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ecrm.backends.sql import SQLBackend, make_engine
from tests.servers import server_engine

settings.register_profile(
    "ci", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile(
    "dev", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("ci" if __import__("os").environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLBackend]:
    """A SQLite file with ecrm's schema, shared by the session (tests use fresh tenants)."""
    path: Path = tmp_path_factory.mktemp("sqlite") / "ecrm.db"
    backend = SQLBackend(make_engine(f"sqlite:///{path}"))
    backend.create_schema()
    yield backend
    backend.close()


def _server_backend(kind: str) -> Iterator[SQLBackend]:
    engine = server_engine(kind)
    backend = SQLBackend(engine)
    backend.drop_schema()
    backend.create_schema()
    yield backend
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_backend() -> Iterator[SQLBackend]:
    """ecrm's schema on the PostgreSQL test server (recreated once per session)."""
    yield from _server_backend("postgres")


@pytest.fixture(scope="session")
def mysql_backend() -> Iterator[SQLBackend]:
    """ecrm's schema on the MySQL/MariaDB test server (recreated once per session)."""
    yield from _server_backend("mysql")


@pytest.fixture(params=["postgres", "mysql"])
def wide_backend(request: pytest.FixtureRequest) -> Iterator[SQLBackend]:
    """A server backend whose pool lets 100 threads queue for connections."""
    request.getfixturevalue(f"{request.param}_backend")  # the schema exists
    engine = server_engine(request.param, pool_size=20, max_overflow=20, pool_timeout=120)
    yield SQLBackend(engine)
    engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Let ``-k`` select the conformance suite's tests by the contract that defines them
    (``-k Audit``, ``-k "Consent and SQLite"``)."""
    for item in items:
        owner = getattr(getattr(item, "function", None), "__qualname__", "").partition(".")[0]
        if owner.endswith("Contract"):
            item.extra_keyword_matches.add(owner)
