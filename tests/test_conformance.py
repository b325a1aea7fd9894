"""The shipped conformance suite, run unchanged against every backend."""

from __future__ import annotations

import pytest

from ecrm.backends import MemoryBackend
from ecrm.testing import BackendConformanceSuite


class TestMemoryBackend(BackendConformanceSuite):
    @pytest.fixture
    def backend(self):
        return MemoryBackend()


class TestSQLiteBackend(BackendConformanceSuite):
    @pytest.fixture
    def backend(self, sqlite_backend):
        return sqlite_backend


@pytest.mark.postgres
class TestPostgresBackend(BackendConformanceSuite):
    @pytest.fixture
    def backend(self, postgres_backend):
        return postgres_backend


@pytest.mark.mysql
class TestMySQLBackend(BackendConformanceSuite):
    @pytest.fixture
    def backend(self, mysql_backend):
        return mysql_backend


def test_no_contract_hides_another_contracts_test() -> None:
    """Two contracts defining a test of the same name would silently run only one."""
    from collections import Counter

    from ecrm.testing.conformance import BackendConformanceSuite

    names = Counter(name for contract in BackendConformanceSuite.__mro__[1:]
                    for name in vars(contract) if name.startswith("test_"))
    assert [name for name, count in names.items() if count > 1] == []
