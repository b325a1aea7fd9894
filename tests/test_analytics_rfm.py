"""RFM analysis: the scoring's properties, the segment maps, and the same table on every
backend (memory, the plain-Python reference, against SQLite, PostgreSQL and MariaDB)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, literal, select

from ecrm import CRM, ManualClock
from ecrm.backends.memory import MemoryBackend
from ecrm.backends.sql.rfm import integer_division
from ecrm.domain.rfm import (
    DEFAULT_SEGMENTS,
    RFMSegmentMap,
    RFMSegmentRule,
    rescale,
    score_label,
    scores,
)
from ecrm.errors import ValidationError
from ecrm.testing.segment_shops import ShopPlan, load_shop, shops

BACKENDS = ["sqlite_backend", "postgres_backend", "mysql_backend"]
bins_ = st.integers(2, 10)
values = st.lists(st.integers(0, 20), min_size=1, max_size=40)


# -- the scores -----------------------------------------------------------------------------

@given(values, bins_, st.booleans())
def test_a_score_is_one_plus_bins_times_the_share_strictly_worse(
        numbers: list[int], bins: int, lower_is_better: bool) -> None:
    n = len(numbers)
    for value, found in zip(numbers, scores(numbers, bins, lower_is_better=lower_is_better),
                            strict=True):
        worse = sum(1 for other in numbers
                    if (other > value if lower_is_better else other < value))
        assert found == 1 + bins * worse // n
        assert 1 <= found <= bins


@given(values, bins_, st.booleans(), st.randoms(use_true_random=False))
def test_scores_are_monotone_tie_fair_and_independent_of_order(
        numbers: list[int], bins: int, lower_is_better: bool, random: Any) -> None:
    found = dict(zip(numbers, scores(numbers, bins, lower_is_better=lower_is_better),
                     strict=True))  # a tie with another score would be lost here
    assert len(found) == len(set(numbers))
    assert scores(numbers, bins, lower_is_better=lower_is_better) == [found[v] for v in numbers]
    ordered = sorted(found, reverse=lower_is_better)  # worst first
    assert [found[v] for v in ordered] == sorted(found[v] for v in ordered)
    assert found[ordered[0]] == 1
    shuffled = numbers[:]
    random.shuffle(shuffled)
    assert scores(shuffled, bins, lower_is_better=lower_is_better) == [found[v]
                                                                       for v in shuffled]


def test_distinct_values_fill_the_bins_evenly() -> None:
    assert scores(list(range(10)), 5) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores(list(range(10)), 5, lower_is_better=True) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores([7] * 4, 5) == [1, 1, 1, 1]  # all tied: nobody is worse
    assert scores([1, 2, 2, 2, 3], 5) == [1, 2, 2, 2, 5]


def test_rescaling_and_labels() -> None:
    assert [rescale(s, 10, 5) for s in range(1, 11)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [rescale(s, 2, 5) for s in (1, 2)] == [3, 5]
    assert [rescale(s, 3, 5) for s in (1, 2, 3)] == [2, 4, 5]
    assert score_label(5, 4, 5, 5) == "545"
    assert score_label(10, 5, 1, 10) == "100501"


# -- the segment maps -----------------------------------------------------------------------

#: The default map on (R, F) out of 5; rows R = 5 at the top, columns F = 1..5.
DEFAULT_GRID = """
new                potential_loyalist potential_loyalist champions      champions
promising          potential_loyalist potential_loyalist loyal          loyal
about_to_sleep     about_to_sleep     need_attention     loyal          loyal
hibernating        hibernating        at_risk            at_risk        cant_lose
lost               hibernating        at_risk            at_risk        cant_lose
"""


def test_the_default_segments_cover_all_25_cells_as_documented() -> None:
    cells = DEFAULT_SEGMENTS.cells(5)
    assert len(cells) == 125
    for m in range(1, 6):
        grid = [[cells[r, f, m] for f in range(1, 6)] for r in range(5, 0, -1)]
        assert grid == [line.split() for line in DEFAULT_GRID.strip().splitlines()]
    assert DEFAULT_SEGMENTS.names() == (
        "lost", "hibernating", "at_risk", "cant_lose", "about_to_sleep", "need_attention",
        "loyal", "promising", "new", "potential_loyalist", "champions")


@pytest.mark.parametrize("bins", range(2, 11))
def test_the_default_segments_cover_every_number_of_bins(bins: int) -> None:
    cells = DEFAULT_SEGMENTS.cells(bins)
    assert len(cells) == bins ** 3
    five = DEFAULT_SEGMENTS.cells(5)
    for (r, f, _), name in cells.items():
        assert name == five[rescale(r, bins, 5), rescale(f, bins, 5), 1]


def test_the_first_matching_rule_wins_and_names_may_repeat() -> None:
    rules = RFMSegmentMap([RFMSegmentRule("vip", (3, 3), (3, 3)),
                           RFMSegmentRule("vip", monetary=(3, 3)),
                           RFMSegmentRule("rest")])
    cells = rules.cells(3)
    assert cells[3, 3, 1] == cells[1, 1, 3] == "vip"
    assert cells[2, 3, 2] == "rest"
    assert rules.names() == ("vip", "rest")


@pytest.mark.parametrize(("make", "message"), [
    (lambda: RFMSegmentRule("two words"), "identifier"),
    (lambda: RFMSegmentRule(""), "identifier"),
    (lambda: RFMSegmentRule("x" * 65), "identifier"),
    (lambda: RFMSegmentRule(5), "identifier"),
    (lambda: RFMSegmentRule("a", recency=(0, 2)), "1 <= lo <= hi"),
    (lambda: RFMSegmentRule("a", recency=(3, 2)), "1 <= lo <= hi"),
    (lambda: RFMSegmentRule("a", frequency=(1,)), "pair of integers"),
    (lambda: RFMSegmentRule("a", monetary=(1.0, 2)), "pair of integers"),
    (lambda: RFMSegmentMap([]), "at least one"),
    (lambda: RFMSegmentMap(["champions"]), "at least one"),
    (lambda: RFMSegmentMap([RFMSegmentRule("a")], bins=11), "bins"),
    (lambda: RFMSegmentMap([RFMSegmentRule("a", (1, 6))], bins=5), "goes past 5"),
    (lambda: RFMSegmentMap([RFMSegmentRule("a", (1, 2))]).cells(3), "no rule matches r=3"),
])
def test_bad_segment_maps_are_refused(make: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make()


@pytest.mark.parametrize("fixture", BACKENDS)
def test_scores_divide_exactly_on_every_database(fixture: str,
                                                 request: pytest.FixtureRequest) -> None:
    """MySQL's ``/`` rounds to four decimal places, so FLOOR(999995 / 200000) would be 5:
    the scores of big shops need true integer division. A difference divided keeps its
    parentheses (MySQL's DIV binds tighter than ``-``)."""
    backend = request.getfixturevalue(fixture)
    pairs = [(999_995, 200_000), (5 * 199_999, 200_000), (9, 10), (10, 10), (0, 7)]
    with backend.engine.connect() as conn:
        dialect = conn.dialect.name
        found = conn.execute(select(*(integer_division(
            literal(a + 7, BigInteger) - literal(7, BigInteger), literal(b, BigInteger),
            dialect) for a, b in pairs))).one()
    assert list(found) == [a // b for a, b in pairs]


# -- every backend gives the same table -----------------------------------------------------

def table_on(backend: Any, plan: ShopPlan, bins: int) -> dict[str, tuple[Any, ...]]:
    crm = CRM(backend, tenant=f"rfm-{uuid.uuid4().hex[:10]}", clock=ManualClock(plan.as_of))
    names = load_shop(crm, plan)
    table = crm.analytics.rfm(as_of=plan.as_of, bins=bins)
    assert [row.customer_id for row in table] == sorted(row.customer_id for row in table)
    return {names[row.customer_id]: (row.recency_days, row.frequency, row.monetary,
                                     str(row.monetary), row.r, row.f, row.m, row.score,
                                     row.segment) for row in table}


@pytest.mark.parametrize("fixture", BACKENDS)
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(plan=shops, bins=bins_)
def test_every_backend_gives_the_reference_table(fixture: str, plan: ShopPlan, bins: int,
                                                 request: pytest.FixtureRequest) -> None:
    expected = table_on(MemoryBackend(), plan, bins)
    assert table_on(request.getfixturevalue(fixture), plan, bins) == expected
