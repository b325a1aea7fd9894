"""The backend conformance suite and Hypothesis strategies, shipped so that third-party
backends can certify themselves. Needs pytest and Hypothesis (``pip install "ecrm[testing]"``).

A backend's test file only says how to make the backend::

    import pytest
    from ecrm.testing import BackendConformanceSuite, make_state_machine_test

    class TestMyBackend(BackendConformanceSuite):
        @pytest.fixture
        def backend(self, my_backend):   # e.g. a session-scoped fixture of yours
            return my_backend

    TestMyBackendModel = make_state_machine_test(lambda: shared_backend)
"""

from ecrm.testing.conformance import BackendConformanceSuite
from ecrm.testing.stateful import make_state_machine_test

__all__ = ["BackendConformanceSuite", "make_state_machine_test"]
