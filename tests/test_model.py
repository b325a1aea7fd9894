"""Each backend against the plain-Python model (Hypothesis stateful testing)."""

from __future__ import annotations

import pytest

from ecrm.backends import MemoryBackend
from ecrm.testing import make_state_machine_test

TestMemoryModel = make_state_machine_test(MemoryBackend)


def _model_test_on(fixture_name: str) -> type:
    """The model test class for the session backend held by fixture ``fixture_name``."""
    holder: dict[str, object] = {}

    @pytest.fixture(autouse=True)
    def provide_backend(self, request: pytest.FixtureRequest) -> None:
        holder["backend"] = request.getfixturevalue(fixture_name)

    case = make_state_machine_test(lambda: holder["backend"])
    return type(f"{fixture_name}_model", (case,), {"provide_backend": provide_backend})


TestSQLiteModel = _model_test_on("sqlite_backend")
TestPostgresModel = pytest.mark.postgres(_model_test_on("postgres_backend"))
TestMySQLModel = pytest.mark.mysql(_model_test_on("mysql_backend"))
