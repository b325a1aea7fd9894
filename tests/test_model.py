"""Each backend against the plain-Python models (Hypothesis stateful testing): the whole
CRM, the loyalty programme's earnings and clawbacks, and the life cycle of support
cases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ecrm.backends import MemoryBackend
from ecrm.testing import make_state_machine_test
from ecrm.testing.case_model import make_case_test
from ecrm.testing.programme_model import make_programme_test

TestMemoryModel = make_state_machine_test(MemoryBackend)
TestMemoryProgramme = make_programme_test(MemoryBackend)
TestMemoryCases = make_case_test(MemoryBackend)


def _on(fixture_name: str, make_test: Callable[..., type]) -> type:
    """The test class ``make_test`` builds for the session backend of ``fixture_name``."""
    holder: dict[str, object] = {}

    @pytest.fixture(autouse=True)
    def provide_backend(self, request: pytest.FixtureRequest) -> None:
        holder["backend"] = request.getfixturevalue(fixture_name)

    case = make_test(lambda: holder["backend"])
    return type(f"{fixture_name}_{make_test.__name__}", (case,),
                {"provide_backend": provide_backend})


TestSQLiteModel = _on("sqlite_backend", make_state_machine_test)
TestPostgresModel = pytest.mark.postgres(_on("postgres_backend", make_state_machine_test))
TestMySQLModel = pytest.mark.mysql(_on("mysql_backend", make_state_machine_test))
TestSQLiteProgramme = _on("sqlite_backend", make_programme_test)
TestPostgresProgramme = pytest.mark.postgres(_on("postgres_backend", make_programme_test))
TestMySQLProgramme = pytest.mark.mysql(_on("mysql_backend", make_programme_test))
TestSQLiteCases = _on("sqlite_backend", make_case_test)
TestPostgresCases = pytest.mark.postgres(_on("postgres_backend", make_case_test))
TestMySQLCases = pytest.mark.mysql(_on("mysql_backend", make_case_test))
