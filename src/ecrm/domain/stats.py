"""The few distributions the A/B tests need, in plain Python (no scipy): the standard
normal and Student's t, their tail probabilities and quantiles.

Relative accuracy is about 1e-12 for moderate degrees of freedom and 1e-8 or better up
to a million; the suite compares each function with scipy.
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)
_MAX_ITERATIONS = 300
_EPSILON = 1e-15
_TINY = 1e-300


def normal_cdf(x: float) -> float:
    """P(Z <= x) for a standard normal Z."""
    return 0.5 * math.erfc(-x / _SQRT2)


def normal_sf(x: float) -> float:
    """P(Z > x) for a standard normal Z, accurate far into the upper tail."""
    return 0.5 * math.erfc(x / _SQRT2)


def normal_ppf(p: float) -> float:
    """The x with P(Z <= x) = p, for 0 < p < 1: Acklam's rational approximation, then
    one Halley step on ``normal_cdf``, which brings it to double precision."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p!r} is not strictly between 0 and 1")
    if p > 0.5:
        return -normal_ppf(1.0 - p)  # the lower tail is where the cdf is precise
    x = _acklam(p)
    error = normal_cdf(x) - p
    u = error * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)


_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)


def _acklam(p: float) -> float:
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return _tail(q)
    if p > 1 - 0.02425:
        q = math.sqrt(-2 * math.log1p(-p))
        return -_tail(q)
    q = p - 0.5
    r = q * q
    numerator = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5])
    denominator = (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1)
    return numerator * q / denominator


def _tail(q: float) -> float:
    numerator = (((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5])
    denominator = ((((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1)
    return numerator / denominator


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (df > 0, not necessarily
    whole: Welch's test gives fractional ones)."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, not {df!r}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    if math.isinf(df):
        return normal_sf(t)
    # Both x and 1 - x are computed directly: 1 - x from x loses all precision when t
    # is tiny against df.
    square = t * t
    tail = 0.5 * regularized_beta(df / (df + square), df / 2, 0.5,
                                  complement=square / (df + square))
    return tail if t >= 0 else 1.0 - tail


def t_ppf(p: float, df: float) -> float:
    """The t with P(T <= t) = p for Student's t with ``df`` degrees of freedom: Newton's
    method on :func:`t_sf` from the normal quantile, bisection when a step misbehaves."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"probability {p!r} is not strictly between 0 and 1")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -_upper_quantile(p, df)
    return _upper_quantile(1.0 - p, df)


def _upper_quantile(tail: float, df: float) -> float:
    """The t > 0 with P(T > t) = ``tail``; taking the tail itself keeps the precision
    1 - p would lose."""
    low, high = 0.0, 1.0
    while t_sf(high, df) > tail:
        low, high = high, high * 2
    x = min(max(normal_ppf(1.0 - tail), low), high)
    for _ in range(_MAX_ITERATIONS):
        excess = t_sf(x, df) - tail  # positive while x is too low
        step = excess / _t_pdf(x, df)
        if abs(step) <= 1e-14 * max(1.0, x):
            return x + step
        if excess > 0:
            low = x
        else:
            high = x
        candidate = x + step
        x = candidate if low <= candidate <= high else (low + high) / 2
    return x


def _t_pdf(t: float, df: float) -> float:
    log_density = (math.lgamma((df + 1) / 2) - math.lgamma(df / 2)
                   - 0.5 * math.log(df * math.pi) - (df + 1) / 2 * math.log1p(t * t / df))
    return math.exp(log_density)


def regularized_beta(x: float, a: float, b: float, *, complement: float | None = None
                     ) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction
    (Lentz's method), using the symmetry I_x(a, b) = 1 - I_(1-x)(b, a) where that
    converges faster. ``complement`` is 1 - x when the caller knows it more precisely."""
    y = 1.0 - x if complement is None else complement
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log(y))
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(y, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, _MAX_ITERATIONS + 1):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _EPSILON:
            break
    return result
