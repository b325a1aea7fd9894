"""The lifetime-value models (ecrm.analytics.clv): the published CDNOW estimates, the
predictions against figures of the lifetimes package and against an independent
numerical integration of the model, and bad input."""

from __future__ import annotations

import csv
import math
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from scipy import integrate, optimize

from ecrm.analytics import CLVSummary, CLVSummaryRow
from ecrm.analytics.clv import (
    BetaGeoModel,
    GammaGammaModel,
    ModelFitError,
    _bgnbd_data,
    _bgnbd_nll,
    _gamma_gamma_nll,
    predict_clv,
)
from ecrm.errors import ValidationError
from tests.cdnow import DATA

#: The published estimates on the CDNOW sample (Fader, Hardie & Lee 2005; Fader &
#: Hardie 2013), the models built from them, and four customers' histories.
PUBLISHED = BetaGeoModel(r=0.243, alpha=4.414, a=0.793, b=2.426)
SPEND = GammaGammaModel(p=6.25, q=3.74, gamma=15.44)
X, TX, T = np.array([0, 2, 7, 1]), np.array([0.0, 30.43, 35.0, 1.71]), np.array(
    [38.86, 38.86, 38.0, 38.86])
ZBAR = np.array([0.0, 22.35, 40.0, 11.77])


def sig(value: float, digits: int = 3) -> float:
    """``value`` rounded to ``digits`` significant digits."""
    return float(f"{value:.{digits}g}")


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    with (DATA / "cdnow_customers_summary_with_transactions.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {name: np.array([float(row[name]) for row in rows])
            for name in ("x", "t_x", "T", "zbar")}


def test_bgnbd_fit_gives_the_published_estimates(cdnow) -> None:
    model = BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert {k: sig(v) for k, v in model.params.items()} == {
        "r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}
    assert round(model.log_likelihood, 1) == -9582.4  # as the paper reports


def test_gamma_gamma_fit_gives_the_published_estimates(cdnow) -> None:
    model = GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])  # x = 0 rows left out
    assert {k: sig(v) for k, v in model.params.items()} == {
        "p": 6.25, "q": 3.74, "gamma": 15.4}


def test_weights_stand_for_repeated_rows(cdnow) -> None:
    rows = np.column_stack([cdnow["x"], cdnow["t_x"], cdnow["T"]])
    unique, counts = np.unique(rows, axis=0, return_counts=True)
    plain = BetaGeoModel().fit(*rows.T)
    weighted = BetaGeoModel().fit(*unique.T, weights=counts)
    for name, value in plain.params.items():
        assert weighted.params[name] == pytest.approx(value, rel=1e-6)


def test_the_gradients_are_those_of_the_likelihood(cdnow) -> None:
    args = _bgnbd_data(cdnow["x"], cdnow["t_x"], cdnow["T"], np.ones(len(cdnow["x"])))
    for point in ([0.1, 1.2, -0.3, 0.8], [-1.4, 1.5, -0.2, 0.9]):
        error = optimize.check_grad(lambda p: _bgnbd_nll(p, *args)[0],
                                    lambda p: _bgnbd_nll(p, *args)[1], np.array(point))
        assert error < 1e-6
    keep = cdnow["x"] > 0
    args = (cdnow["x"][keep], cdnow["zbar"][keep] / 35, np.ones(keep.sum()))
    error = optimize.check_grad(lambda p: _gamma_gamma_nll(p, *args)[0],
                                lambda p: _gamma_gamma_nll(p, *args)[1],
                                np.array([1.8, 1.3, -0.8]))
    assert error < 1e-6


def test_fitting_recovers_a_simulated_population() -> None:
    r, alpha, a, b = 0.5, 6.0, 1.2, 3.5
    rng = np.random.default_rng(7)
    n, T = 20_000, 52.0
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    # K purchases in (0, T] while alive; death comes after purchase D ~ Geometric(p);
    # the x-th of K uniform purchase times is T * Beta(x, K - x + 1).
    k, d = rng.poisson(lam * T), rng.geometric(p)
    x = np.minimum(k, d)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), k - x + 1), 0.0)
    fitted = BetaGeoModel().fit(x, tx, np.full(n, T))
    for name, true in {"r": r, "alpha": alpha, "a": a, "b": b}.items():
        assert fitted.params[name] == pytest.approx(true, rel=0.2), name


# -- predictions -------------------------------------------------------------------------

def test_predictions_match_the_lifetimes_package() -> None:
    """Figures printed by lifetimes 0.11.3 (BetaGeoFitter, GammaGammaFitter) given the
    published parameters."""
    assert PUBLISHED.expected_purchases(39, X, TX, T) == pytest.approx(
        [0.19509805, 1.22602817, 4.55618528, 0.20318699], rel=1e-7)
    assert PUBLISHED.expected_purchases(52, X, TX, T) == pytest.approx(
        [0.25207302, 1.55872081, 5.72868166, 0.25982346], rel=1e-7)
    assert PUBLISHED.probability_alive(X, TX, T) == pytest.approx(
        [1.0, 0.72657857, 0.86199107, 0.21210099], rel=1e-7)
    assert PUBLISHED.expected_purchases_new([1, 39, 78]) == pytest.approx(
        [0.05326789, 1.19672319, 1.86051906], rel=1e-7)
    assert SPEND.expected_average_value(X, ZBAR) == pytest.approx(
        [35.2189781, 24.66371391, 39.71821897, 18.91685206], rel=1e-8)


def _posterior_integrals(x: int, tx: float, T: float, t: float) -> tuple[float, float]:
    """P(alive) and E[X(T, T + t)] from the model's definition, without its closed forms
    (nor 2F1): while alive a customer buys as Poisson(lambda) and dies after each
    purchase with probability p. Given (lambda, p) the data's likelihood is
    (1 - p)^x lambda^x e^(-lambda T) alive at T, plus p (1 - p)^(x - 1) lambda^x
    e^(-lambda t_x) dead after t_x; alive, the purchases in (T, T + t] number
    (1 - e^(-lambda p t)) / p on average. Each term is integrated over lambda ~
    Gamma(r, alpha) by hand (a Gamma integral), then over p ~ Beta(a, b) numerically."""
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def gamma_term(rate: float) -> float:
        """E over lambda of lambda^x e^(-lambda rate), less the factor common to all."""
        return (alpha / (alpha + rate)) ** (r + x)

    def over_p(f) -> float:
        density = lambda p: math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p)  # noqa
                                     - log_beta)
        value, _ = integrate.quad(lambda p: f(p) * density(p), 0, 1, epsabs=0,
                                  epsrel=1e-11, limit=400)
        return value

    alive = over_p(lambda p: (1 - p) ** x * gamma_term(T))
    dead = 0.0 if x == 0 else over_p(lambda p: p * (1 - p) ** (x - 1) * gamma_term(tx))
    future = over_p(lambda p: (1 - p) ** x * (gamma_term(T) - gamma_term(T + p * t)) / p)
    return alive / (alive + dead), future / (alive + dead)


@pytest.mark.parametrize(("x", "tx", "T", "t"), [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0),
                                                 (1, 1.71, 38.86, 20.0), (4, 20.0, 30.0, 52.0),
                                                 (60, 38.0, 39.0, 52.0)])
def test_predictions_match_a_numerical_integration(x: int, tx: float, T: float, t: float
                                                   ) -> None:
    p_alive, expected = _posterior_integrals(x, tx, T, t)
    assert PUBLISHED.probability_alive(x, tx, T) == pytest.approx(p_alive, rel=1e-5)
    assert PUBLISHED.expected_purchases(t, x, tx, T) == pytest.approx(expected, rel=1e-5)


def test_expected_purchases_of_a_new_customer_match_an_integral() -> None:
    """E[X(t)] = E[(1 - exp(-lambda p t)) / p]; over lambda ~ Gamma(r, alpha) that is
    E_p[(1 - (alpha / (alpha + p t)) ** r) / p], one integral over p ~ Beta(a, b)."""
    r, alpha, a, b = PUBLISHED.r, PUBLISHED.alpha, PUBLISHED.a, PUBLISHED.b
    log_beta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    def integrand(p: float, t: float) -> float:
        density = math.exp((a - 1) * math.log(p) + (b - 1) * math.log1p(-p) - log_beta)
        return (1 - (alpha / (alpha + p * t)) ** r) / p * density

    for t in (1.0, 39.0, 78.0, 500.0):
        value, _ = integrate.quad(integrand, 0, 1, args=(t,), epsabs=0, epsrel=1e-11,
                                  limit=400)
        assert PUBLISHED.expected_purchases_new(t) == pytest.approx(value, rel=1e-7)


def test_predictions_stay_finite_for_heavy_buyers() -> None:
    """The direct series of 2F1 overflows for large x, Euler's transformation does not."""
    x = np.array([50, 200, 1000, 10_000])
    values = PUBLISHED.expected_purchases(52, x, np.full(4, 39.0), np.full(4, 39.0))
    assert np.all(np.isfinite(values)) and np.all(np.diff(values) > 0)
    # Buying ~26 times a week, then a week without a purchase: almost surely gone.
    assert PUBLISHED.probability_alive(1000, 38.0, 39.0) < 1e-6
    assert PUBLISHED.expected_purchases(0, 3, 10.0, 20.0) == 0.0


def summary(rows, currency: str = "USD", unit_days: float = 7.0) -> CLVSummary:
    return CLVSummary([CLVSummaryRow(str(i), int(x), tx, T, Decimal(str(z)))
                       for i, (x, tx, T, z) in enumerate(rows)],
                      time_unit="week", unit_days=unit_days, currency=currency)


def test_clv_is_the_discounted_sum_of_expected_period_revenue() -> None:
    table = predict_clv(summary(zip(X, TX, T, ZBAR, strict=True)), horizon=12,
                        period=timedelta(days=4.345 * 7), discount_rate=0.01,
                        transactions=PUBLISHED, value=SPEND)
    # lifetimes 0.11.3: GammaGammaFitter.customer_lifetime_value(time=12, freq="W",
    # discount_rate=0.01) with the same models.
    assert [float(row.clv) for row in table] == pytest.approx(
        [8.36900436, 36.28921113, 214.99310366, 4.63729466], abs=1e-4)
    for row, x, tx, T_, z in zip(table, X, TX, T, ZBAR, strict=True):
        value = SPEND.expected_average_value(x, z)
        by_hand = sum((PUBLISHED.expected_purchases(i * 4.345, x, tx, T_)
                       - PUBLISHED.expected_purchases((i - 1) * 4.345, x, tx, T_))
                      * value / 1.01 ** i for i in range(1, 13))
        assert float(row.clv) == pytest.approx(by_hand, abs=1e-4)
        assert row.expected_purchases == pytest.approx(
            PUBLISHED.expected_purchases(12 * 4.345, x, tx, T_))
        assert row.probability_alive == pytest.approx(PUBLISHED.probability_alive(x, tx, T_))
        assert row.clv.as_tuple().exponent == -4  # USD: two places below the cent
    assert (table.horizon, table.period_units, table.discount_rate) == (12, 4.345, 0.01)


def test_predict_clv_fits_both_models_when_none_are_given(cdnow) -> None:
    rows = zip(cdnow["x"], cdnow["t_x"], cdnow["T"], cdnow["zbar"], strict=True)
    table = predict_clv(summary(rows), horizon=6, period="week", discount_rate=0.0)
    assert sig(table.transactions.r) == 0.243 and sig(table.value.p) == 6.25
    assert table.period_units == 1.0 and len(table) == 2357
    undiscounted = sum(float(row.clv) for row in table)
    spend = table.value.expected_average_value(cdnow["x"], cdnow["zbar"])
    purchases = table.transactions.expected_purchases(6, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert undiscounted == pytest.approx(float(spend @ purchases), rel=1e-6)


# -- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(("x", "tx", "T", "field"), [
    ([-1], [0.0], [5.0], "x"),
    ([1.5], [1.0], [5.0], "x"),
    ([1], [-1.0], [5.0], "t_x"),
    ([1], [6.0], [5.0], "t_x"),
    ([0], [1.0], [5.0], "t_x"),
    ([1, 2], [1.0, 2.0, 3.0], [5.0, 5.0, 5.0], "x"),
    ([1], [float("nan")], [5.0], "t_x"),
    ([1], ["soon"], [5.0], "t_x"),
    ([], [], [], "x"),
])
def test_bad_histories_are_refused(x, tx, T, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BetaGeoModel().fit(x, tx, T)
    assert caught.value.field == field
    if x:
        with pytest.raises(ValidationError):
            PUBLISHED.probability_alive(x, tx, T)


def test_bad_model_input_is_refused() -> None:
    with pytest.raises(ValidationError, match="weights"):
        BetaGeoModel().fit([1, 0], [1.0, 0.0], [2.0, 2.0], weights=[1, 0])
    with pytest.raises(ValidationError, match="t_x"):
        BetaGeoModel().fit([1, 0])
    with pytest.raises(ModelFitError, match="repeat purchase"):
        BetaGeoModel().fit([0, 0], [0.0, 0.0], [3.0, 4.0])
    with pytest.raises(ValidationError, match="not fitted"):
        BetaGeoModel().probability_alive(1, 1.0, 2.0)
    with pytest.raises(ValidationError, match="alpha"):
        BetaGeoModel(r=1, alpha=-1, a=1, b=1)
    with pytest.raises(ValidationError, match="b"):
        BetaGeoModel(r=1, alpha=1, a=1)
    with pytest.raises(ValidationError, match="t"):
        PUBLISHED.expected_purchases(-1, 1, 1.0, 2.0)
    with pytest.raises(ValidationError, match="zbar"):
        GammaGammaModel().fit([1, 2], [-3.0, 4.0])
    with pytest.raises(ValidationError, match="repeat purchases"):
        GammaGammaModel().fit([0, 0], [0.0, 0.0])
    with pytest.raises(ModelFitError, match="infinite"):
        GammaGammaModel(p=1, q=0.5, gamma=1).expected_average_value(1, 10.0)


def test_bad_clv_terms_are_refused() -> None:
    good = summary([(1, 2.0, 3.0, 10.0), (0, 0.0, 3.0, 0.0)])
    terms = {"transactions": PUBLISHED, "value": SPEND}
    for bad, field in (({"horizon": 0}, "horizon"), ({"horizon": 2.5}, "horizon"),
                       ({"period": "year"}, "period"), ({"discount_rate": -0.1}, "discount_rate"),
                       ({"discount_rate": float("inf")}, "discount_rate")):
        with pytest.raises(ValidationError) as caught:
            predict_clv(good, **terms, **bad)
        assert caught.value.field == field
    with pytest.raises(ValidationError, match="no customers"):
        predict_clv(summary([]), **terms)
    with pytest.raises(ValidationError, match="CLVSummary"):
        predict_clv([(1, 2.0, 3.0, 10.0)], **terms)
    with pytest.raises(ValidationError, match="value"):
        predict_clv(good, transactions=PUBLISHED, value=PUBLISHED)
