"""The segment records' checks: ``new_segment`` and ``change_segment`` refuse bad fields
with a ValidationError naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ecrm.domain.segments import SegmentKind, change_segment, new_segment
from ecrm.errors import ValidationError

NOW = datetime(2026, 4, 1, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=1)
RULE = {"field": "orders.count", "op": ">=", "value": 3}


def test_a_new_segment_is_clean_and_empty() -> None:
    segment = new_segment("s-1", NOW, name="  VIP  ", kind="dynamic", rule=RULE,
                          description=" 上得意様 ")
    assert (segment.name, segment.kind, segment.description) == ("VIP", SegmentKind.DYNAMIC,
                                                                 "上得意様")
    assert (segment.created_at, segment.updated_at, segment.refreshed_at) == (NOW, NOW, None)
    assert segment.member_count == 0 and segment.rule == RULE and segment.rule is not RULE
    static = new_segment("s-2", NOW, name="x" * 100, kind=SegmentKind.STATIC,
                         description="d" * 1000)
    assert static.rule is None and static.kind == "static"


@pytest.mark.parametrize("fields, field", [
    ({"name": None}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": 7}, "name"),
    ({"description": "d" * 1001}, "description"),
    ({"kind": "smart"}, "kind"),
    ({"kind": None}, "kind"),
    ({"kind": "dynamic", "rule": None}, "rule"),
    ({"kind": "dynamic", "rule": ["not", "a", "mapping"]}, "rule"),
    ({"kind": "dynamic", "rule": {"value": float("nan")}}, "rule.value"),
    ({"kind": "dynamic", "rule": {1: "key"}}, "rule"),
    ({"kind": "static", "rule": {}}, "rule"),
])
def test_bad_fields_are_named(fields: dict[str, Any], field: str) -> None:
    values = {"name": "VIP", "kind": "static", **fields}
    with pytest.raises(ValidationError) as raised:
        new_segment("s-1", NOW, **values)
    assert raised.value.field == field


def test_a_change_is_checked_and_moves_updated_at() -> None:
    segment = new_segment("s-1", NOW, name="VIP", kind="dynamic", rule=RULE)
    assert change_segment(segment, LATER, name="VIP", rule=dict(RULE)) is segment
    renamed = change_segment(segment, LATER, name="Gold", description="top")
    assert (renamed.name, renamed.description, renamed.updated_at) == ("Gold", "top", LATER)
    assert (renamed.created_at, renamed.rule, renamed.kind) == (NOW, RULE, "dynamic")
    static = change_segment(segment, LATER, kind="static", rule=None)
    assert (static.kind, static.rule) == ("static", None)


@pytest.mark.parametrize("changes, field", [
    ({"kind": "static"}, "rule"),
    ({"rule": None}, "rule"),
    ({"name": ""}, "name"),
    ({"member_count": 3}, "member_count"),
    ({"id": "other"}, "id"),
])
def test_bad_changes_are_named(changes: dict[str, Any], field: str) -> None:
    segment = new_segment("s-1", NOW, name="VIP", kind="dynamic", rule=RULE)
    with pytest.raises(ValidationError) as raised:
        change_segment(segment, LATER, **changes)
    assert raised.value.field == field
