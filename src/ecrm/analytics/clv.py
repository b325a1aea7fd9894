"""Predictive customer lifetime value: the BG/NBD model of repeat purchases (Fader, Hardie
& Lee 2005, "Counting Your Customers the Easy Way"), the Gamma-Gamma model of their value
(Fader & Hardie 2013), and the discounted lifetime value they give together.

Needs numpy and scipy, the ``predict`` extra: ``pip install "ecrm[predict]"``. Nothing
else in ecrm imports this module, so ``import ecrm`` stays light.

Both models are fitted by maximum likelihood: the log-likelihood and its gradient are
computed in closed form over arrays (``gammaln``, ``digamma``), identical rows are
grouped and weighted, and ``scipy.optimize.minimize`` (BFGS) searches the logarithms of
the parameters, so they stay positive. The formulas are in ``docs/analytics-clv.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar

try:
    import numpy as np
    from scipy import optimize, special
except ImportError as error:  # pragma: no cover - tested in a subprocess without them
    raise ImportError(
        f"ecrm.analytics.clv needs numpy and scipy ({error.name} is missing); they come "
        f'with the predict extra: pip install "ecrm[predict]"', name=error.name) from error

from ecrm.analytics.lifetime import CLVRow, CLVSummary, CLVTable
from ecrm.domain.lifetime import clv_terms
from ecrm.domain.money import CURRENCY_EXPONENTS
from ecrm.errors import ECRMError, ValidationError

__all__ = ["BetaGeoModel", "GammaGammaModel", "ModelFitError", "predict_clv"]

Arrays = Any  # array-likes: lists, tuples, numpy arrays, pandas Series


class ModelFitError(ECRMError):
    """The maximum-likelihood search did not converge, or the fitted parameters cannot
    give the asked figure (a Gamma-Gamma ``q <= 1`` has no finite mean spend)."""


# -- input checks ----------------------------------------------------------------------

def _array(field: str, values: Arrays) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise ValidationError(field, f"expected numbers: {error}") from None
    if array.ndim > 1:
        raise ValidationError(field, "expected a one-dimensional sequence")
    array = np.atleast_1d(array)
    if not np.all(np.isfinite(array)):
        raise ValidationError(field, "must be finite numbers")
    return array


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    size = max(lengths.values())
    for name, length in lengths.items():
        if length not in (1, size):
            raise ValidationError(name, f"has {length} values where the others have {size}")
    return size


def _history(x: Arrays, t_x: Arrays, T: Arrays) -> tuple[np.ndarray, ...]:
    """``(x, t_x, T)`` checked: x whole and >= 0, 0 <= t_x <= T, t_x = 0 when x = 0."""
    xs, txs, Ts = _array("x", x), _array("t_x", t_x), _array("T", T)
    size = _same_length(x=xs, t_x=txs, T=Ts)
    xs, txs, Ts = (np.broadcast_to(a, size) for a in (xs, txs, Ts))
    if np.any(xs < 0) or np.any(xs != np.floor(xs)):
        raise ValidationError("x", "must be whole numbers >= 0 (repeat purchases)")
    if np.any(txs < 0):
        raise ValidationError("t_x", "must be >= 0")
    if np.any(txs > Ts):
        raise ValidationError("t_x", "must not exceed T (the last purchase comes after the "
                              "end of the period)")
    if np.any((xs == 0) & (txs != 0)):
        raise ValidationError("t_x", "must be 0 for a customer without repeat purchases")
    return xs, txs, Ts


def _weights(weights: Arrays | None, size: int) -> np.ndarray:
    if weights is None:
        return np.ones(size)
    w = _array("weights", weights)
    if len(w) != size:
        raise ValidationError("weights", f"has {len(w)} values for {size} customers")
    if np.any(w <= 0):
        raise ValidationError("weights", "must be > 0")
    return w


def _summary_arrays(summary: CLVSummary) -> tuple[np.ndarray, ...]:
    if not isinstance(summary, CLVSummary):
        raise ValidationError("summary", f"expected a CLVSummary, got {type(summary).__name__}")
    if not summary.rows:
        raise ValidationError("summary", "has no customers")
    x = np.fromiter((row.frequency for row in summary.rows), float, len(summary.rows))
    tx = np.fromiter((row.recency for row in summary.rows), float, len(summary.rows))
    T = np.fromiter((row.age for row in summary.rows), float, len(summary.rows))
    zbar = np.fromiter((row.monetary_value for row in summary.rows), float,
                       len(summary.rows))
    return x, tx, T, zbar


def _groups(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``columns`` that are identical in every column: the first row of each
    group, and every row's group number (a lexsort and a pass, far cheaper than
    ``np.unique(axis=0)``)."""
    order = np.lexsort(tuple(reversed(columns)))
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for column in columns:
        ordered = column[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    group = np.empty(len(order), dtype=np.intp)
    group[order] = np.cumsum(starts) - 1
    return order[starts], group


def _grouped(columns: Sequence[np.ndarray], weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Identical rows of ``columns`` merged, their weights added."""
    firsts, group = _groups(columns)
    summed = np.bincount(group, weights=weights, minlength=len(firsts))
    return (*(column[firsts] for column in columns), summed)


def _dot(weights: np.ndarray, values: np.ndarray) -> float:
    """The weighted sum. ``einsum``, not ``@``: a BLAS dot product may start threads,
    which costs far more than it saves on a busy machine."""
    return np.einsum("i,i->", weights, values)  # type: ignore[no-any-return]


def _scalar_or_array(value: np.ndarray, *inputs: Any) -> Any:
    if all(np.ndim(i) == 0 for i in inputs):
        return float(np.asarray(value).reshape(-1)[0])
    return value


def _minimise(nll: Any, start: np.ndarray, args: tuple[Any, ...], model: str) -> Any:
    found = optimize.minimize(nll, start, args=args, jac=True, method="BFGS",
                              options={"gtol": 1e-9, "maxiter": 2000})
    # BFGS may stop on "precision loss" at the optimum; what counts is a flat gradient.
    if not np.all(np.isfinite(found.x)) or (not found.success
                                             and np.max(np.abs(found.jac)) > 1e-5):
        raise ModelFitError(f"the {model} fit did not converge: {found.message}")
    return found


class _Model:
    """Named positive parameters, given or set by ``fit``; reading them before either
    is an error."""

    names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **given: float | None) -> None:
        self._values: tuple[float, ...] | None = None
        #: The maximised log-likelihood (summed over customers), after ``fit``.
        self.log_likelihood: float | None = None
        if any(value is not None for value in given.values()):
            for name in self.names:
                value = given[name]
                if value is None or not np.isfinite(value) or value <= 0:
                    raise ValidationError(name, "must be a positive number")
            self._values = tuple(float(given[name]) for name in self.names)  # type: ignore

    def values(self) -> tuple[float, ...]:
        """The parameters, in the order of ``names``."""
        if self._values is None:
            raise ValidationError("model", "is not fitted: call fit() or give its parameters")
        return self._values

    @property
    def params(self) -> dict[str, float]:
        """The parameters by name."""
        return dict(zip(self.names, self.values(), strict=True))

    def __repr__(self) -> str:
        if self._values is None:
            return f"{type(self).__name__}(not fitted)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"{type(self).__name__}({shown})"


# -- BG/NBD ----------------------------------------------------------------------------

def _bgnbd_data(x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray
                ) -> tuple[np.ndarray, ...]:
    """The arguments of :func:`_bgnbd_nll`: identical histories merged, and the weight of
    each distinct x (the gamma functions depend on x alone)."""
    x, tx, T, w = _grouped((x, tx, T), w)
    values, index = np.unique(x, return_inverse=True)
    return x, tx, T, w, values, np.bincount(index.ravel(), weights=w)


def _bgnbd_nll(log_params: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray,
               w: np.ndarray, x_values: np.ndarray, x_weights: np.ndarray
               ) -> tuple[float, np.ndarray]:
    """The weighted mean negative log-likelihood of BG/NBD and its gradient in the
    log-parameters (see :func:`_bgnbd_data` for the arguments).

    ll = A1 + A2 + log(exp(A3) + [x > 0] exp(A4)) with A1 = lnG(r + x) - lnG(r) +
    r ln alpha, A2 = lnG(a + b) + lnG(b + x) - lnG(b) - lnG(a + b + x), A3 = -(r + x)
    ln(alpha + T), A4 = ln a - ln(b + x - 1) - (r + x) ln(alpha + t_x)."""
    r, alpha, a, b = np.exp(log_params)
    lg, dg = special.gammaln, special.digamma
    v, counts = x_values, x_weights
    # A1 + A2 and their derivatives: functions of x alone, summed over its values.
    ll = _dot(counts, lg(r + v) + lg(b + v) - lg(a + b + v)) \
        + counts.sum() * (r * np.log(alpha) - lg(r) + lg(a + b) - lg(b))
    d_r = _dot(counts, dg(r + v) - dg(r) + np.log(alpha))
    d_alpha = counts.sum() * r / alpha
    d_a = _dot(counts, dg(a + b) - dg(a + b + v))
    d_b = _dot(counts, dg(a + b) + dg(b + v) - dg(b) - dg(a + b + v))
    # log(exp(A3) + [x > 0] exp(A4)) per history, as top + log(e3 + e4).
    log_T, log_tx = np.log(alpha + T), np.log(alpha + tx)
    b_x = b + np.maximum(x, 1) - 1
    a3 = -(r + x) * log_T
    a4 = np.where(x > 0, np.log(a) - np.log(b_x) - (r + x) * log_tx, -np.inf)
    top = np.maximum(a3, a4)
    e3, e4 = np.exp(a3 - top), np.exp(a4 - top)
    total = e3 + e4
    ll += _dot(w, top + np.log(total))
    w3 = e3 / total
    w4 = 1.0 - w3
    d_r -= _dot(w, w3 * log_T + w4 * log_tx)
    d_alpha -= _dot(w, (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx)))
    d_a += _dot(w, w4) / a
    d_b -= _dot(w, w4 / b_x)
    n = w.sum()
    return -ll / n, -np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b]) / n


class BetaGeoModel(_Model):
    """The BG/NBD model: while alive, a customer buys as a Poisson process of rate
    lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
    p ~ Beta(a, b). Time is in the summary's unit (weeks by default).

    Fit it with :meth:`fit`, or give the parameters: ``BetaGeoModel(r=0.243,
    alpha=4.414, a=0.793, b=2.426)``.
    """

    names = ("r", "alpha", "a", "b")

    def __init__(self, r: float | None = None, alpha: float | None = None,
                 a: float | None = None, b: float | None = None) -> None:
        super().__init__(r=r, alpha=alpha, a=a, b=b)

    r = property(lambda self: self.values()[0], doc="Shape of the purchase rate's gamma.")
    alpha = property(lambda self: self.values()[1], doc="Scale of the purchase rate's gamma.")
    a = property(lambda self: self.values()[2], doc="First shape of the dropout's beta.")
    b = property(lambda self: self.values()[3], doc="Second shape of the dropout's beta.")

    def fit(self, data: CLVSummary | Arrays, t_x: Arrays | None = None,
            T: Arrays | None = None, *, weights: Arrays | None = None) -> BetaGeoModel:
        """Fit r, alpha, a, b by maximum likelihood to a :class:`CLVSummary`, or to
        arrays ``x`` (``data``), ``t_x`` and ``T``; ``weights`` counts customers per row.

        :raises ValidationError: no customers, mismatched lengths, negative or
            fractional x, t_x < 0, t_x > T, t_x != 0 when x = 0, weights <= 0.
        :raises ModelFitError: the search did not converge (no repeat purchases at all,
            say).
        """
        if isinstance(data, CLVSummary):
            if t_x is not None or T is not None:
                raise ValidationError("t_x", "give a summary or arrays, not both")
            data, t_x, T, _ = _summary_arrays(data)
        elif t_x is None or T is None:
            raise ValidationError("T" if t_x is not None else "t_x",
                                  "is required with an array of x")
        x, tx, Ts = _history(data, t_x, T)
        if len(x) == 0:
            raise ValidationError("x", "has no customers")
        if not np.any(x > 0):
            raise ModelFitError("BG/NBD cannot be fitted without a single repeat purchase")
        w = _weights(weights, len(x))
        x, tx, Ts, w, values, counts = _bgnbd_data(x, tx, Ts, w)
        scale = 10.0 / max(float(Ts.max()), 1e-9)  # condition the search: max T = 10
        found = _minimise(_bgnbd_nll, np.zeros(4),
                          (x, tx * scale, Ts * scale, w, values, counts), "BG/NBD")
        r, alpha, a, b = np.exp(found.x)
        self._values = (float(r), float(alpha / scale), float(a), float(b))
        unscaled = _bgnbd_nll(np.log(self._values), x, tx, Ts, w, values, counts)[0]
        self.log_likelihood = float(-unscaled * w.sum())
        return self

    def probability_alive(self, x: Arrays, t_x: Arrays, T: Arrays) -> Any:
        """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) /
        (alpha + t_x)) ** (r + x)). A float for scalar input, else an array."""
        self.values()
        xs, txs, Ts = _history(x, t_x, T)
        return _scalar_or_array(1.0 / (1.0 + self._dropout_odds(xs, txs, Ts)), x, t_x, T)

    def _dropout_odds(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.values()
        log_odds = np.log(a) - np.log(b + np.maximum(x, 1) - 1) \
            + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
        return np.where(x > 0, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def expected_purchases(self, t: Arrays, x: Arrays, t_x: Arrays, T: Arrays) -> Any:
        """E[X(T, T + t) | x, t_x, T]: the purchases expected in the next ``t`` units of
        a customer with this history (equation 10 of Fader, Hardie & Lee 2005)."""
        self.values()
        ts = _array("t", t)
        if np.any(ts < 0):
            raise ValidationError("t", "must be >= 0")
        xs, txs, Ts = _history(x, t_x, T)
        size = _same_length(t=ts, x=xs)
        ts, xs, txs, Ts = (np.broadcast_to(v, size) for v in (ts, xs, txs, Ts))
        return _scalar_or_array(self._conditional(ts, xs, txs, Ts), t, x, t_x, T)

    def _conditional(self, t: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray
                     ) -> np.ndarray:
        return self._purchases_if_alive(t, x, T) / (1.0 + self._dropout_odds(x, tx, T))

    def _purchases_if_alive(self, t: np.ndarray, x: np.ndarray, T: np.ndarray
                            ) -> np.ndarray:
        """E[X(T, T + t) | alive at T, x, T], which does not depend on t_x:
        (a + b + x - 1) / (a - 1) [1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
        2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))]."""
        r, alpha, a, b = self.values()
        z = t / (alpha + T + t)
        # The power times 2F1 through Euler's transformation: (1 - z) ** (a - 1)
        # 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z). The direct series overflows and
        # cancels for heavy buyers; the transformed one converges fast for every x.
        decay = (1.0 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1.0 - decay)

    def expected_purchases_new(self, t: Arrays) -> Any:
        """E[X(t)]: the repeat purchases expected in ``t`` units from a new customer's
        first purchase (equation 9): (a + b - 1) / (a - 1) [1 - (alpha / (alpha + t)) **
        r 2F1(r, b; a + b - 1; t / (alpha + t))]."""
        r, alpha, a, b = self.values()
        ts = _array("t", t)
        if np.any(ts < 0):
            raise ValidationError("t", "must be >= 0")
        log_h = _log_hyp2f1(r, b, a + b - 1, ts / (alpha + ts))
        value = (a + b - 1) / (a - 1) * (1.0 - np.exp(log_h + r * np.log(alpha / (alpha + ts))))
        return _scalar_or_array(value, t)


def _log_hyp2f1(a: Any, b: Any, c: Any, z: np.ndarray) -> np.ndarray:
    """log 2F1(a, b; c; z) for 0 <= z < 1, through Euler's transformation
    2F1(a, b; c; z) = (1 - z) ** (c - a - b) 2F1(c - a, c - b; c; z) where the direct
    series overflows."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        direct = np.log(special.hyp2f1(a, b, c, z))
        euler = np.log(special.hyp2f1(c - a, c - b, c, z)) + (c - a - b) * np.log1p(-z)
    return np.where(np.isfinite(direct), direct, euler)


# -- Gamma-Gamma -----------------------------------------------------------------------

def _gamma_gamma_nll(log_params: np.ndarray, x: np.ndarray, m: np.ndarray, w: np.ndarray
                     ) -> tuple[float, np.ndarray]:
    """The weighted mean negative log-likelihood of the mean spend ``m`` over ``x``
    purchases under Gamma-Gamma, and its gradient in the log-parameters."""
    p, q, v = np.exp(log_params)
    lg, dg = special.gammaln, special.digamma
    px = p * x
    log_total = np.log(x * m + v)
    ll = lg(px + q) - lg(px) - lg(q) + q * np.log(v) + (px - 1) * np.log(m) \
        + px * np.log(x) - (px + q) * log_total
    d_p = x * (dg(px + q) - dg(px) + np.log(m) + np.log(x) - log_total)
    d_q = dg(px + q) - dg(q) + np.log(v) - log_total
    d_v = q / v - (px + q) / (x * m + v)
    total = w.sum()
    grad = np.array([_dot(w, d_p) * p, _dot(w, d_q) * q, _dot(w, d_v) * v])
    return -_dot(w, ll) / total, -grad / total


class GammaGammaModel(_Model):
    """The Gamma-Gamma model of spend: each purchase of a customer is worth
    Gamma(p, nu), with the customer's own nu ~ Gamma(q, gamma) across customers and
    independent of how often they buy. Fitted on the customers with repeat purchases
    (x > 0) and a positive mean value zbar.

    Fit it with :meth:`fit`, or give the parameters: ``GammaGammaModel(p=6.25, q=3.74,
    gamma=15.44)``.
    """

    names = ("p", "q", "gamma")

    def __init__(self, p: float | None = None, q: float | None = None,
                 gamma: float | None = None) -> None:
        super().__init__(p=p, q=q, gamma=gamma)

    p = property(lambda self: self.values()[0], doc="Shape of a purchase's value.")
    q = property(lambda self: self.values()[1], doc="Shape of the customers' rate nu.")
    gamma = property(lambda self: self.values()[2], doc="Scale of the customers' rate nu.")

    def fit(self, data: CLVSummary | Arrays, zbar: Arrays | None = None, *,
            weights: Arrays | None = None) -> GammaGammaModel:
        """Fit p, q, gamma by maximum likelihood to a :class:`CLVSummary`, or to arrays
        ``x`` (``data``) and ``zbar``. Rows with x = 0 or zbar = 0 (repeat purchases
        refunded in full) carry no spend to learn from and are left out.

        :raises ValidationError: mismatched lengths, negative or fractional x, negative
            zbar, no row with x > 0 and zbar > 0.
        :raises ModelFitError: the search did not converge.
        """
        if isinstance(data, CLVSummary):
            if zbar is not None:
                raise ValidationError("zbar", "give a summary or arrays, not both")
            data, _, _, zbar = _summary_arrays(data)
        elif zbar is None:
            raise ValidationError("zbar", "is required with an array of x")
        x, m = _array("x", data), _array("zbar", zbar)
        size = _same_length(x=x, zbar=m)
        x, m = np.broadcast_to(x, size), np.broadcast_to(m, size)
        if np.any(x < 0) or np.any(x != np.floor(x)):
            raise ValidationError("x", "must be whole numbers >= 0 (repeat purchases)")
        if np.any(m < 0):
            raise ValidationError("zbar", "must be >= 0")
        w = _weights(weights, size)
        keep = (x > 0) & (m > 0)
        if not np.any(keep):
            raise ValidationError("x", "no customer has repeat purchases with a value > 0")
        x, m, w = _grouped((x[keep], m[keep]), w[keep])
        scale = float(np.average(m, weights=w))  # condition the search: mean spend 1
        found = _minimise(_gamma_gamma_nll, np.zeros(3), (x, m / scale, w), "Gamma-Gamma")
        p, q, v = np.exp(found.x)
        self._values = (float(p), float(q), float(v * scale))
        self.log_likelihood = float(-_gamma_gamma_nll(np.log(self._values), x, m, w)[0]
                                    * w.sum())
        return self

    def expected_average_value(self, x: Arrays, zbar: Arrays) -> Any:
        """E[Z | x, zbar] = (q - 1) / (p x + q - 1) * gamma p / (q - 1) + p x / (p x +
        q - 1) * zbar: the customer's own mean shrunk towards the population's
        (gamma p / (q - 1)), the more so the fewer purchases it rests on.

        :raises ModelFitError: q <= 1 (the population mean is infinite).
        """
        p, q, v = self.values()
        xs, ms = _array("x", x), _array("zbar", zbar)
        if np.any(xs < 0):
            raise ValidationError("x", "must be >= 0")
        if q <= 1:
            raise ModelFitError(f"q = {q:.4g} <= 1: the mean spend is infinite")
        value = p * (v + xs * ms) / (p * xs + q - 1)
        return _scalar_or_array(value, x, zbar)


# -- lifetime value ----------------------------------------------------------------------

def predict_clv(summary: CLVSummary, *, horizon: int = 12,
                period: str | timedelta = "month", discount_rate: float = 0.01,
                transactions: BetaGeoModel | None = None,
                value: GammaGammaModel | None = None) -> CLVTable:
    """Each customer's discounted lifetime value over ``horizon`` periods of ``period``:
    sum over i = 1..horizon of (E[X(i L)] - E[X((i - 1) L)]) * E[Z] / (1 + d) ** i,
    with L the period in the summary's unit, E[X(t)] the BG/NBD conditional expectation
    and E[Z] the Gamma-Gamma expected value of a purchase (the discrete approximation
    lifetimes' ``customer_lifetime_value`` makes). Models not given are fitted on the
    summary. See ``crm.analytics.predict_clv``.

    :raises ValidationError: an empty summary, a horizon that is not a whole number
        >= 1, a bad period or a discount rate that is negative or not finite.
    """
    period_name, period_days, discount_rate = clv_terms(horizon, period, discount_rate)
    for name, model, kind in (("transactions", transactions, BetaGeoModel),
                              ("value", value, GammaGammaModel)):
        if model is not None and not isinstance(model, kind):
            raise ValidationError(name, f"expected a {kind.__name__}, got "
                                  f"{type(model).__name__}")
    x, tx, T, zbar = _summary_arrays(summary)
    transactions = transactions if transactions is not None else BetaGeoModel().fit(x, tx, T)
    value = value if value is not None else GammaGammaModel().fit(x, zbar)
    length = period_days / summary.unit_days
    # E[X(t)] = P(alive) E[X(t) | alive], and the latter depends on (x, T) alone: work
    # it out once per distinct pair and period end, with 2F1 the costly part.
    alive = 1.0 / (1.0 + transactions._dropout_odds(x, tx, T))
    firsts, pair = _groups((x, T))
    ends = np.arange(horizon + 1)[:, None] * length
    if_alive = transactions._purchases_if_alive(ends, x[firsts], T[firsts])
    if_alive[0] = 0.0
    discounts = (1.0 + discount_rate) ** -np.arange(1, horizon + 1)
    discounted = np.einsum("i,ij->j", discounts, np.diff(if_alive, axis=0))[pair] * alive
    purchases = if_alive[-1][pair] * alive
    spend = np.asarray(value.expected_average_value(x, zbar), dtype=float)
    places = Decimal(1).scaleb(-(CURRENCY_EXPONENTS.get(summary.currency, 2) + 2))
    rows = [CLVRow(row.customer_id, row.frequency, row.recency, row.age, row.monetary_value,
                   float(alive[i]), float(purchases[i]), _money(spend[i], places),
                   _money(discounted[i] * spend[i], places))
            for i, row in enumerate(summary.rows)]
    return CLVTable(rows, summary, horizon, period_name, length, discount_rate,
                    transactions, value)


def _money(amount: float, places: Decimal) -> Decimal:
    return Decimal(float(amount)).quantize(places)
