"""Lifetime-value benchmark: the BG/NBD summary and model fit by ecrm against the same
work done by hand and by the ``lifetimes`` package, on the synthetic shop, in the same run.

- summary: ``crm.analytics.clv_summary`` on the SQLite store of the shop (days in Tokyo,
  unit week) against (a) the same two GROUP BYs hand-written and run through the raw
  ``sqlite3`` module, and (b) reading the orders with ``sqlite3`` into pandas and
  summarising them with ``lifetimes.utils.summary_data_from_transaction_data`` (daily,
  then divided by 7). Every side must give the same summary;
- fit: ``BetaGeoModel.fit`` against ``lifetimes.BetaGeoFitter.fit`` and against a plain
  scipy fit (the per-customer log-likelihood, no grouping and no gradient, minimised with
  Nelder-Mead as lifetimes once did), on the shop's summary and on a simulated BG/NBD
  population of 200,000 customers (at scale 1.0) with times in fractions of a week (where
  grouping identical rows saves nothing). Every side must find the same parameters;
- lifetime value: ``predict_clv`` (12 periods of 4.345 weeks, 1% a period) against
  lifetimes' ``customer_lifetime_value`` with the same fitted models.

``lifetimes`` is not a dependency of ecrm: ``pip install lifetimes`` into the virtualenv
to include it (its sides are skipped, with a note, when it is missing).

    python -m benchmarks.clv --scale 1.0 --repeat 3

The SQLite store is the one ``benchmarks.segments`` builds (kept in
``benchmarks/.data/``; about 5 minutes at scale 1.0 the first time).
"""

from __future__ import annotations

import argparse
import importlib.util
import sqlite3
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from scipy import optimize, special

from benchmarks.baseline import utc_text
from benchmarks.generator import JST, ShopParams, ensure_dataset
from benchmarks.segments import as_of_time, sqlite_store

TZ = "Asia/Tokyo"
#: Customers of the simulated population at scale 1.0 (it scales with --scale).
SIMULATED = 200_000
#: The period lifetimes' customer_lifetime_value uses for a month of weeks (freq="W").
MONTH_OF_WEEKS = 4.345

HAND_SQL = """
SELECT customer_id, min(day), max(day), count(*), sum(revenue),
       sum(CASE WHEN day = first_day THEN revenue ELSE 0 END)
FROM (SELECT customer_id, day, sum(net) AS revenue,
             min(day) OVER (PARTITION BY customer_id) AS first_day
      FROM (SELECT customer_id, date(substr(placed_at, 1, 19), '+32400 seconds') AS day,
                   total_minor - refunded_minor AS net
            FROM ecrm_orders
            WHERE tenant_id = :tenant AND currency = :currency AND status != 'cancelled'
              AND placed_at <= :until)
      GROUP BY customer_id, day)
GROUP BY customer_id ORDER BY customer_id
"""


def has_lifetimes() -> bool:
    """Whether the lifetimes package can be imported."""
    return importlib.util.find_spec("lifetimes") is not None


# -- the summary -------------------------------------------------------------------------

def ecrm_summary(crm: Any, end: datetime) -> Callable[[], dict[str, tuple]]:
    def run() -> dict[str, tuple]:
        table = crm.analytics.clv_summary(calibration_end=end, time_unit="week", tz=TZ)
        return {r.customer_id: (r.frequency, r.recency, r.age, r.monetary_value)
                for r in table}
    return run


def hand_summary(db: str, tenant: str, end: datetime) -> Callable[[], dict[str, tuple]]:
    last = end.astimezone(JST).date()

    def run() -> dict[str, tuple]:
        conn = sqlite3.connect(db)
        try:
            found = {}
            for cid, first, latest, days, revenue, first_revenue in conn.execute(
                    HAND_SQL, {"tenant": tenant, "currency": "JPY", "until": utc_text(end)}):
                first_day = date.fromisoformat(first)
                x = days - 1
                zbar = Decimal(revenue - first_revenue) / max(x, 1)
                found[cid] = (x, (date.fromisoformat(latest) - first_day).days / 7,
                              (last - first_day).days / 7, zbar)
            return found
        finally:
            conn.close()
    return run


def lifetimes_summary(db: str, tenant: str, end: datetime) -> Callable[[], dict[str, tuple]]:
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    def run() -> dict[str, tuple]:
        conn = sqlite3.connect(db)
        try:
            orders = pd.read_sql_query(
                "SELECT customer_id, placed_at, total_minor - refunded_minor AS net "
                "FROM ecrm_orders WHERE tenant_id = ? AND currency = 'JPY' "
                "AND status != 'cancelled' AND placed_at <= ?", conn,
                params=(tenant, utc_text(end)))
        finally:
            conn.close()
        orders["placed_at"] = pd.to_datetime(orders["placed_at"]) + pd.Timedelta(hours=9)
        summary = summary_data_from_transaction_data(
            orders, "customer_id", "placed_at", monetary_value_col="net",
            observation_period_end=end.astimezone(JST).replace(tzinfo=None), freq="D")
        return {cid: (int(f), r / 7, t / 7, Decimal(m)) for cid, f, r, t, m in zip(
            summary.index, summary["frequency"], summary["recency"], summary["T"],
            summary["monetary_value"], strict=True)}
    return run


def same_summaries(answers: dict[str, dict[str, tuple]]) -> bool:
    """Whether every side found the same customers, x, t_x and T (to 1e-9) and zbar (to
    0.01 yen: ecrm rounds its averages to two places below the yen)."""
    first, *others = answers.values()
    for found in others:
        if found.keys() != first.keys():
            return False
        for cid, (x, tx, t, z) in first.items():
            x2, tx2, t2, z2 = found[cid]
            if x != x2 or abs(tx - tx2) > 1e-9 or abs(t - t2) > 1e-9 \
                    or abs(Decimal(z) - Decimal(z2)) > Decimal("0.01"):
                return False
    return True


# -- the fit ---------------------------------------------------------------------------------

def simulated_population(n: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """x, t_x, T of ``n`` customers drawn from BG/NBD (r 0.9, alpha 6.6, a 1.5, b 10),
    watched 0-156 weeks, times in fractions of a week."""
    rng = np.random.default_rng(seed)
    lam, p = rng.gamma(0.9, 1 / 6.6, n), rng.beta(1.5, 10.0, n)
    T = rng.uniform(0.0, 156.0, n)
    k, d = rng.poisson(lam * T), rng.geometric(p)
    x = np.minimum(k, d).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), k - x + 1), 0.0)
    return x, tx, T


def ecrm_fit(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> Callable[[], dict]:
    from ecrm.analytics.clv import BetaGeoModel

    return lambda: BetaGeoModel().fit(x, tx, T).params


def lifetimes_fit(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> Callable[[], dict]:
    from lifetimes import BetaGeoFitter

    def run() -> dict:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = BetaGeoFitter().fit(x, tx, T)
        return {k: float(v) for k, v in fitted.params_.items()}
    return run


def scipy_fit(x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> Callable[[], dict]:
    """The straightforward fit: BG/NBD's log-likelihood per customer, as in Fader,
    Hardie & Lee's paper, minimised over log-parameters with Nelder-Mead."""
    def nll(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = special.betaln(a, b + x) - special.betaln(a, b)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.where(x > 0, np.log(a) - np.log(b + np.maximum(x, 1) - 1)
                      - (r + x) * np.log(alpha + tx), -np.inf)
        return -float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))

    def run() -> dict:
        found = optimize.minimize(nll, np.zeros(4), method="Nelder-Mead",
                                  options={"maxiter": 5000, "xatol": 1e-6, "fatol": 1e-6})
        return dict(zip(("r", "alpha", "a", "b"), np.exp(found.x).tolist(), strict=True))
    return run


def same_params(answers: dict[str, dict]) -> bool:
    """Whether every side found the same parameters to 3 significant digits."""
    keys = [{k: float(f"{v:.3g}") for k, v in found.items()} for found in answers.values()]
    return all(k == keys[0] for k in keys[1:])


# -- lifetime value ------------------------------------------------------------------------------

def ecrm_clv(summary: Any, bg: Any, gg: Any) -> Callable[[], list[float]]:
    from ecrm.analytics.clv import predict_clv

    def run() -> list[float]:
        table = predict_clv(summary, horizon=12, period=timedelta(days=MONTH_OF_WEEKS * 7),
                            discount_rate=0.01, transactions=bg, value=gg)
        return [float(row.clv) for row in table]
    return run


def lifetimes_clv(summary: Any, bg: Any, gg: Any) -> Callable[[], list[float]]:
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    frame = pd.DataFrame([(r.frequency, r.recency, r.age, float(r.monetary_value))
                          for r in summary], columns=["x", "t_x", "T", "zbar"])
    bgf, ggf = BetaGeoFitter(), GammaGammaFitter()
    bgf.params_ = pd.Series(bg.params)
    bgf.predict = bgf.conditional_expected_number_of_purchases_up_to_time
    ggf.params_ = pd.Series({"p": gg.p, "q": gg.q, "v": gg.gamma})

    def run() -> list[float]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            values = ggf.customer_lifetime_value(bgf, frame["x"], frame["t_x"], frame["T"],
                                                 frame["zbar"], time=12, discount_rate=0.01,
                                                 freq="W")
        return values.tolist()
    return run


# -- timing -------------------------------------------------------------------------------------

def compare(label: str, sides: dict[str, Callable[[], Any]], repeat: int,
            same: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Run every side ``repeat`` times, rotating which goes first; print the medians,
    each side's ratio to ecrm, and whether the answers agree."""
    times: dict[str, list[float]] = {name: [] for name in sides}
    answers: dict[str, Any] = {}
    names = list(sides)
    for round_ in range(repeat):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            started = time.perf_counter()
            answers[name] = sides[name]()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(found) for name, found in times.items()}
    base = medians["ecrm"]
    print(f"{label}:")
    for name, median in medians.items():
        spread = ", ".join(f"{t:.2f}" for t in times[name])
        ratio = "" if name == "ecrm" else f"  ecrm {base / median:.2f}x its time"
        print(f"  {name:<26} {median:8.2f} s  (rounds: {spread}){ratio}")
    agree = same(answers)
    print(f"  same answers: {'yes' if agree else 'NO'}")
    return {"medians": medians, "same": agree, "answers": answers}


def run_all(params: ShopParams, repeat: int) -> dict[str, Any]:
    """Build or reuse the store, then time the summary, the fits and the CLV."""
    import ecrm
    from ecrm.analytics.clv import BetaGeoModel, GammaGammaModel

    data_dir = ensure_dataset(params)
    db = sqlite_store(data_dir)
    end = as_of_time(params) - timedelta(microseconds=1)
    crm = ecrm.CRM.open(f"sqlite:///{db}")
    lifetimes = has_lifetimes()
    if not lifetimes:
        print("note: lifetimes is not installed (pip install lifetimes): its sides are skipped")
    print(f"clv: {data_dir.name}, calibration end {end.isoformat()}, days in {TZ}, "
          f"{repeat} round{'s' if repeat > 1 else ''} (medians)")
    results = {}
    sides = {"ecrm": ecrm_summary(crm, end), "SQL by hand": hand_summary(str(db), crm.tenant,
                                                                          end)}
    if lifetimes:
        sides["pandas + lifetimes"] = lifetimes_summary(str(db), crm.tenant, end)
    results["summary"] = compare("summary on SQLite", sides, repeat, same_summaries)
    summary = crm.analytics.clv_summary(calibration_end=end, time_unit="week", tz=TZ)
    crm.close()
    x = np.array([r.frequency for r in summary], dtype=float)
    tx = np.array([r.recency for r in summary])
    T = np.array([r.age for r in summary])
    simulated = max(1000, round(SIMULATED * params.scale))
    populations = {f"shop summary ({len(x):,} customers)": (x, tx, T),
                   f"simulated ({simulated:,} customers)": simulated_population(simulated)}
    for label, (px, ptx, pT) in populations.items():
        sides = {"ecrm": ecrm_fit(px, ptx, pT)}
        if lifetimes:
            sides["lifetimes BetaGeoFitter"] = lifetimes_fit(px, ptx, pT)
        sides["scipy Nelder-Mead"] = scipy_fit(px, ptx, pT)
        results[label] = found = compare(f"BG/NBD fit, {label}", sides, repeat, same_params)
        print("  parameters: " + "; ".join(
            f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in params_.items())
            for name, params_ in found["answers"].items()))
    bg, gg = BetaGeoModel().fit(summary), GammaGammaModel().fit(summary)
    if lifetimes:
        results["clv"] = compare(
            "lifetime value, 12 periods", {"ecrm": ecrm_clv(summary, bg, gg),
                                           "lifetimes": lifetimes_clv(summary, bg, gg)},
            repeat, lambda a: np.allclose(a["ecrm"], a["lifetimes"], rtol=1e-6, atol=0.01))
    return results


def main(argv: list[str] | None = None) -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="rounds, rotating the order")
    args = parser.parse_args(argv)
    run_all(ShopParams(scale=args.scale, seed=args.seed), args.repeat)


if __name__ == "__main__":
    main()
