"""``crm.analytics`` and the backends' analytics queries are each assembled from one
mixin per analysis module; two mixins defining the same name would silently shadow one
another (as two ``_counted`` helpers with different signatures once did)."""

from __future__ import annotations

import pytest

from ecrm.analytics.service import Analytics
from ecrm.backends.memory_analytics import MemoryAnalyticsQueries
from ecrm.backends.sql.analytics import SQLAnalyticsQueries

OWN = {"__module__", "__doc__", "__annotations__", "__dict__", "__weakref__",
       "__qualname__", "__firstlineno__", "__static_attributes__", "__init__",
       "__parameters__", "__orig_bases__", "__protocol_attrs__", "_is_protocol"}


@pytest.mark.parametrize("assembled", [Analytics, MemoryAnalyticsQueries,
                                       SQLAnalyticsQueries])
def test_no_two_mixins_define_the_same_name(assembled: type) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for mixin in assembled.__mro__[1:]:
        if mixin is object or mixin.__module__.startswith("typing"):
            continue
        for name in set(vars(mixin)) - OWN:
            if name in seen and name != "_crm":
                clashes.append(f"{name}: {seen[name]} and {mixin.__name__}")
            seen.setdefault(name, mixin.__name__)
    assert clashes == []
