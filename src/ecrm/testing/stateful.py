"""A Hypothesis state machine that drives a backend and a plain-Python model with the same
operations and checks, after every step, that they agree."""

from __future__ import annotations

import unittest
from collections.abc import Callable
from typing import Any

from ecrm.backends.base import Backend


def make_state_machine_test(make_backend: Callable[[], Backend]) -> type[unittest.TestCase]:
    """A TestCase class running :class:`ecrm.testing.model.CRMModelMachine` against the
    backend ``make_backend()`` returns (called once per example; each example also gets a
    fresh tenant, so the factory may hand out one shared backend)."""
    from ecrm.testing.model import CRMModelMachine

    machine: Any = type("BoundCRMModelMachine", (CRMModelMachine,),
                        {"make_backend": staticmethod(make_backend)})
    return machine.TestCase
