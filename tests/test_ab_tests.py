"""A/B statistics against scipy as the oracle, plus hand-computed figures."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from ecrm.analytics import (
    sample_size_for_means,
    sample_size_for_proportions,
    two_proportion_test,
    welch_t_test,
)
from ecrm.domain import stats
from ecrm.errors import ValidationError

ALTERNATIVES = st.sampled_from(["two-sided", "greater", "less"])
# scipy squares variances twice without scaling them, so for tiny values its degrees of
# freedom underflow (ecrm's do not, see below): the oracle is only trusted on values the
# size money has.
VALUES = st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: 0.0 if abs(v) < 1e-6 else v)
SAMPLES = st.lists(VALUES, min_size=2, max_size=60)


def close(a: float, b: float, rel: float = 1e-7, abs_: float = 1e-12) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


@given(st.floats(-30, 30), st.sampled_from([1, 2, 3.5, 9, 41.7, 300, 1e5]))
def test_t_tail_matches_scipy(t: float, df: float) -> None:
    assert close(stats.t_sf(t, df), scipy_stats.t.sf(t, df), rel=1e-8, abs_=1e-300)


@given(st.floats(1e-12, 1 - 1e-12), st.sampled_from([1, 2, 3.5, 9, 41.7, 300, 1e5]))
def test_t_quantile_matches_scipy(p: float, df: float) -> None:
    assert close(stats.t_ppf(p, df), scipy_stats.t.ppf(p, df), rel=1e-8, abs_=1e-10)


@given(st.floats(1e-15, 1 - 1e-15))
def test_normal_quantile_matches_scipy(p: float) -> None:
    assert close(stats.normal_ppf(p), scipy_stats.norm.ppf(p), rel=1e-10, abs_=1e-12)


@settings(max_examples=300)
@given(st.integers(1, 5000), st.integers(1, 5000), st.data(), ALTERNATIVES)
def test_two_proportion_test_matches_the_chi_square_test(n1: int, n2: int, data,
                                                         alternative: str) -> None:
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    result = two_proportion_test(x1, n1, x2, n2, alternative=alternative)
    if x1 + x2 in (0, n1 + n2):
        assert (result.z, result.p_value) == (0.0, 1.0)
        return
    chi2, p, _, _ = scipy_stats.chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]],
                                                 correction=False)
    assert close(result.z ** 2, chi2, rel=1e-9, abs_=1e-9)
    if alternative == "two-sided":
        assert close(result.p_value, p, rel=1e-7, abs_=1e-14)
    expected = {"greater": scipy_stats.norm.sf(result.z),
                "less": scipy_stats.norm.cdf(result.z)}.get(alternative, p)
    assert close(result.p_value, expected, rel=1e-7, abs_=1e-14)
    low, high = result.confidence_interval
    assert low <= result.difference <= high


def test_two_proportion_by_hand() -> None:
    # 120/2400 = 5%, 150/2400 = 6.25%; pooled 5.625%;
    # z = 0.0125 / sqrt(0.05625 * 0.94375 * 2 / 2400) = 0.0125 / 0.0066512 = 1.8794
    result = two_proportion_test(120, 2400, 150, 2400)
    assert round(result.z, 4) == 1.8794
    assert round(result.p_value, 4) == 0.0602
    assert not result.significant
    assert result.relative_lift == pytest.approx(0.25)
    assert "not significant at the 5% level" in result.summary()
    assert two_proportion_test(100, 1000, 150, 1000).significant


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy's, not ours
@settings(max_examples=200)
@given(SAMPLES, SAMPLES, ALTERNATIVES)
def test_welch_matches_scipy(control: list[float], treatment: list[float],
                             alternative: str) -> None:
    result = welch_t_test(control, treatment, alternative=alternative)
    if result.degrees_of_freedom == len(control) + len(treatment) - 2 \
            and result.confidence_interval[0] == result.confidence_interval[1]:
        return  # both groups constant: scipy gives nan, ecrm a defined answer
    expected = scipy_stats.ttest_ind(treatment, control, equal_var=False,
                                     alternative=alternative)
    assert close(result.t, expected.statistic, rel=1e-6, abs_=1e-9)
    assert close(result.p_value, expected.pvalue, rel=1e-6, abs_=1e-12)
    assert close(result.degrees_of_freedom, expected.df, rel=1e-6)
    interval = expected.confidence_interval(0.95)
    for ours, theirs in zip(result.confidence_interval, interval, strict=True):
        assert (math.isinf(ours) and math.isinf(theirs)) \
            or close(ours, theirs, rel=1e-6, abs_=1e-6)


def test_welch_keeps_tiny_variances_apart() -> None:
    """Squared, these variances would underflow to 0; scaled, the degrees of freedom
    stay those of two groups of two (scipy gives exactly 1.0 here)."""
    result = welch_t_test([0.0, 3.96e-150], [0.0, 7.84e-153])
    assert 1.0 < result.degrees_of_freedom < 1.0001
    assert result.p_value == pytest.approx(0.5006, abs=1e-4)


def test_welch_with_constant_groups() -> None:
    same = welch_t_test([5, 5, 5], [5, 5])
    assert (same.p_value, same.significant) == (1.0, False)
    apart = welch_t_test([5, 5, 5], [7, 7])
    assert (apart.p_value, apart.t) == (0.0, math.inf)


def test_sample_sizes_by_hand() -> None:
    # Fleiss without continuity correction: 50% -> 60% needs 387.4 per group.
    assert sample_size_for_proportions(0.5, 0.1) == 388
    assert sample_size_for_proportions(0.10, 0.02) == 3841
    # 2 (1.959964 + 0.841621)^2 / 0.5^2 = 62.79
    assert sample_size_for_means(1.0, 0.5) == 63
    assert sample_size_for_proportions(0.1, 0.02, alternative="greater") < 3841


def test_sample_size_achieves_the_power() -> None:
    n = sample_size_for_proportions(0.2, 0.05, power=0.9)
    p1, p2 = 0.2, 0.25
    se_null = math.sqrt(2 * 0.225 * 0.775 / n)
    se_alt = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    power = scipy_stats.norm.sf((1.959964 * se_null - 0.05) / se_alt)
    assert 0.9 <= power < 0.9 + 0.005


@pytest.mark.parametrize("call, field", [
    (lambda: two_proportion_test(3, 2, 1, 2), "control_conversions"),
    (lambda: two_proportion_test(1, 0, 1, 2), "control_size"),
    (lambda: two_proportion_test(1, 2, 1, 2, alpha=1.5), "alpha"),
    (lambda: two_proportion_test(1, 2, 1, 2, alternative="bigger"), "alternative"),
    (lambda: welch_t_test([1], [1, 2]), "control"),
    (lambda: welch_t_test([1, 2], [1, float("nan")]), "treatment"),
    (lambda: welch_t_test([1, 2], ["x", 2]), "treatment"),
    (lambda: sample_size_for_proportions(0.95, 0.1), "minimum_detectable_effect"),
    (lambda: sample_size_for_proportions(0.5, 0.1, power=1), "power"),
    (lambda: sample_size_for_means(0, 1), "standard_deviation"),
])
def test_bad_input_names_the_problem(call, field: str) -> None:
    with pytest.raises(ValidationError) as error:
        call()
    assert error.value.field == field
