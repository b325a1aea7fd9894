"""A/B test statistics: two-proportion z-tests for conversion, Welch's t-test for means
such as revenue per customer, and the sample size a test needs.

Every test compares a *treatment* with a *control*; differences are treatment minus
control, and ``alternative`` says which difference the test looks for: ``"two-sided"``
(any), ``"greater"`` (treatment higher) or ``"less"`` (treatment lower). Confidence
intervals have level ``1 - alpha`` and are one-sided (open towards infinity) for the
one-sided alternatives, so an interval excludes 0 exactly when the test is significant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import attrs

from ecrm.domain import stats
from ecrm.errors import ValidationError

ALTERNATIVES = ("two-sided", "greater", "less")


class _Verdict:
    """What every test result says: its p-value against its significance level."""

    p_value: float
    alpha: float

    @property
    def significant(self) -> bool:
        """True when ``p_value < alpha``."""
        return self.p_value < self.alpha


@attrs.frozen
class ProportionTest(_Verdict):
    """A two-proportion z-test: did the treatment convert at a different rate?

    ``z`` uses the pooled rate (the usual test, the same as a chi-square test without
    continuity correction); the interval uses the unpooled standard error (Wald).
    ``relative_lift`` is ``difference / control_rate`` (None when the control rate is 0).
    """

    control_conversions: int
    control_size: int
    treatment_conversions: int
    treatment_size: int
    control_rate: float
    treatment_rate: float
    difference: float
    relative_lift: float | None
    confidence_interval: tuple[float, float]
    z: float
    p_value: float
    alpha: float
    alternative: str

    def summary(self) -> str:
        """One plain sentence: the rates, the difference and whether it is significant."""
        low, high = self.confidence_interval
        return (f"treatment {self.treatment_rate:.2%} vs control {self.control_rate:.2%}: "
                f"{self.difference * 100:+.2f} points "
                f"({1 - self.alpha:.0%} CI {_points(low)} to {_points(high)}), "
                f"p = {self.p_value:.4g}: {_verdict(self.significant, self.alpha)}")


@attrs.frozen
class MeanTest(_Verdict):
    """Welch's t-test: is the treatment's mean (e.g. revenue per customer) different?
    Unequal variances are allowed; ``degrees_of_freedom`` is Welch-Satterthwaite's."""

    control_mean: float
    control_size: int
    treatment_mean: float
    treatment_size: int
    difference: float
    relative_lift: float | None
    confidence_interval: tuple[float, float]
    t: float
    degrees_of_freedom: float
    p_value: float
    alpha: float
    alternative: str

    def summary(self) -> str:
        """One plain sentence: the means, the difference and whether it is significant."""
        low, high = self.confidence_interval
        return (f"treatment mean {self.treatment_mean:.4g} vs control "
                f"{self.control_mean:.4g}: difference {self.difference:+.4g} "
                f"({1 - self.alpha:.0%} CI {low:.4g} to {high:.4g}), "
                f"p = {self.p_value:.4g}: {_verdict(self.significant, self.alpha)}")


def two_proportion_test(control_conversions: int, control_size: int,
                        treatment_conversions: int, treatment_size: int, *,
                        alpha: float = 0.05, alternative: str = "two-sided"
                        ) -> ProportionTest:
    """Test whether the treatment's conversion rate differs from the control's.

    With no conversions at all, or everyone converting in both groups, the data give no
    evidence either way: ``z`` is 0 and ``p_value`` 1.

    :raises ValidationError: a size below 1, conversions outside 0..size, ``alpha``
        outside (0, 1) or an unknown ``alternative``.
    """
    check_terms(alpha, alternative)
    _check_count("control", control_conversions, control_size)
    _check_count("treatment", treatment_conversions, treatment_size)
    p1, p2 = control_conversions / control_size, treatment_conversions / treatment_size
    difference = p2 - p1
    pooled = (control_conversions + treatment_conversions) / (control_size + treatment_size)
    pooled_se = math.sqrt(pooled * (1 - pooled) * (1 / control_size + 1 / treatment_size))
    z = difference / pooled_se if pooled_se > 0 else 0.0
    p_value = _normal_p(z, alternative) if pooled_se > 0 else 1.0
    se = math.sqrt(p1 * (1 - p1) / control_size + p2 * (1 - p2) / treatment_size)
    interval = _interval(difference, se, stats.normal_ppf, alpha, alternative)
    return ProportionTest(control_conversions, control_size, treatment_conversions,
                          treatment_size, p1, p2, difference, _lift(difference, p1),
                          interval, z, p_value, alpha, alternative)


def welch_t_test(control: Iterable[float | Decimal], treatment: Iterable[float | Decimal],
                 *, alpha: float = 0.05, alternative: str = "two-sided") -> MeanTest:
    """Welch's t-test of the treatment's mean against the control's.

    When both groups have zero variance the means are known exactly: equal means give
    ``p_value`` 1, different ones ``p_value`` 0 (``t`` is then infinite).

    :raises ValidationError: fewer than two values in a group, a value that is not a
        finite number, ``alpha`` outside (0, 1) or an unknown ``alternative``.
    """
    check_terms(alpha, alternative)
    a, b = _values("control", control), _values("treatment", treatment)
    (m1, v1), (m2, v2) = _mean_variance(a), _mean_variance(b)
    n1, n2 = len(a), len(b)
    difference = m2 - m1
    se2 = v1 / n1 + v2 / n2
    if se2 == 0:
        df = float(n1 + n2 - 2)
        t = 0.0 if difference == 0 else math.copysign(math.inf, difference)
        p_value = 1.0 if difference == 0 else _t_p(t, df, alternative)
        interval = (difference, difference)
    else:
        df = _welch_degrees_of_freedom(v1 / n1, n1, v2 / n2, n2)
        t = difference / math.sqrt(se2)
        p_value = _t_p(t, df, alternative)
        interval = _interval(difference, math.sqrt(se2),
                             lambda p: stats.t_ppf(p, df), alpha, alternative)
    return MeanTest(m1, n1, m2, n2, difference, _lift(difference, m1), interval, t, df,
                    p_value, alpha, alternative)


def _welch_degrees_of_freedom(a: float, n1: int, b: float, n2: int) -> float:
    scale = max(a, b)  # scaled, so that tiny variances do not underflow when squared
    a, b = a / scale, b / scale
    return (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))


def sample_size_for_proportions(baseline_rate: float, minimum_detectable_effect: float, *,
                                alpha: float = 0.05, power: float = 0.8,
                                alternative: str = "two-sided") -> int:
    """Customers needed in *each* group to detect an absolute change of
    ``minimum_detectable_effect`` from ``baseline_rate`` (0.01 is one percentage point):

    n = (z_a * sqrt(2 p (1 - p)) + z_b * sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 / d^2,

    with p the mean of p1 = baseline and p2 = baseline + effect, z_a the normal quantile
    of 1 - alpha/2 (1 - alpha one-sided) and z_b that of ``power``; rounded up.

    :raises ValidationError: a rate outside (0, 1), a zero effect or one that takes the
        rate outside (0, 1), ``alpha`` or ``power`` outside (0, 1).
    """
    check_terms(alpha, alternative)
    _check_probability("power", power)
    _check_probability("baseline_rate", baseline_rate)
    p1, p2 = baseline_rate, baseline_rate + minimum_detectable_effect
    if minimum_detectable_effect == 0 or not 0 < p2 < 1:
        raise ValidationError("minimum_detectable_effect",
                              "must be non-zero and keep the rate strictly between 0 and 1")
    z_alpha, z_beta = _z_alpha(alpha, alternative), stats.normal_ppf(power)
    mean = (p1 + p2) / 2
    root = (z_alpha * math.sqrt(2 * mean * (1 - mean))
            + z_beta * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2)))
    return math.ceil(_round_off(root ** 2 / minimum_detectable_effect ** 2))


def sample_size_for_means(standard_deviation: float, minimum_detectable_effect: float, *,
                          alpha: float = 0.05, power: float = 0.8,
                          alternative: str = "two-sided") -> int:
    """Customers needed in *each* group to detect a change of the mean by
    ``minimum_detectable_effect`` when values spread with ``standard_deviation``:
    n = 2 (z_a + z_b)^2 sd^2 / d^2, rounded up (the normal approximation).

    :raises ValidationError: a standard deviation or effect that is not positive,
        ``alpha`` or ``power`` outside (0, 1).
    """
    check_terms(alpha, alternative)
    _check_probability("power", power)
    if not standard_deviation > 0:
        raise ValidationError("standard_deviation", "must be positive")
    if minimum_detectable_effect == 0 or not math.isfinite(minimum_detectable_effect):
        raise ValidationError("minimum_detectable_effect", "must be a non-zero number")
    z_sum = _z_alpha(alpha, alternative) + stats.normal_ppf(power)
    return math.ceil(_round_off(
        2 * (z_sum * standard_deviation / minimum_detectable_effect) ** 2))


def _round_off(value: float) -> float:
    # 384.00000000000006 is 384 customers, not 385.
    return round(value, 9)


def _z_alpha(alpha: float, alternative: str) -> float:
    return stats.normal_ppf(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha)


def _normal_p(z: float, alternative: str) -> float:
    if alternative == "greater":
        return stats.normal_sf(z)
    if alternative == "less":
        return stats.normal_cdf(z)
    return min(1.0, 2 * stats.normal_sf(abs(z)))


def _t_p(t: float, df: float, alternative: str) -> float:
    upper = stats.t_sf(t, df)
    if alternative == "greater":
        return upper
    if alternative == "less":
        return 1.0 - upper
    return min(1.0, 2 * min(upper, 1.0 - upper))


def _interval(difference: float, se: float, quantile, alpha: float,  # type: ignore[no-untyped-def]
              alternative: str) -> tuple[float, float]:
    if alternative == "two-sided":
        margin = quantile(1 - alpha / 2) * se
        return (difference - margin, difference + margin)
    margin = quantile(1 - alpha) * se
    if alternative == "greater":
        return (difference - margin, math.inf)
    return (-math.inf, difference + margin)


def _lift(difference: float, control: float) -> float | None:
    return difference / control if control else None


def _mean_variance(values: list[float]) -> tuple[float, float]:
    mean = math.fsum(values) / len(values)
    variance = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, variance


def _values(name: str, values: Iterable[float | Decimal]) -> list[float]:
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ValidationError(name, "values must be numbers") from None
    if len(numbers) < 2:
        raise ValidationError(name, "needs at least two values")
    if not all(math.isfinite(v) for v in numbers):
        raise ValidationError(name, "values must be finite numbers")
    return numbers


def _check_count(name: str, conversions: int, size: int) -> None:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValidationError(f"{name}_size", "must be a whole number of at least 1")
    if not isinstance(conversions, int) or isinstance(conversions, bool) \
            or not 0 <= conversions <= size:
        raise ValidationError(f"{name}_conversions", f"must be a whole number in 0..{size}")


def check_terms(alpha: float, alternative: str) -> None:
    """Raise ValidationError unless ``alpha`` is in (0, 1) and ``alternative`` is one of
    :data:`ALTERNATIVES`."""
    _check_probability("alpha", alpha)
    if alternative not in ALTERNATIVES:
        raise ValidationError("alternative", f"must be one of {', '.join(ALTERNATIVES)}")


def _check_probability(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValidationError(name, "must be a number strictly between 0 and 1")


def _points(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value * 100:+.2f}"


def _verdict(significant: bool, alpha: float) -> str:
    level = f"{alpha:.0%}" if alpha * 100 == round(alpha * 100) else f"{alpha:g}"
    return (f"significant at the {level} level" if significant
            else f"not significant at the {level} level")
