"""BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and Gamma-Gamma (Fader, Hardie &
Lee 2005, "RFM and CLV") with numpy/scipy: maximum-likelihood fits of the published likelihoods and the
published conditional expectations. Maximum likelihood (not MAP with priors) is what the papers report, so
the CDNOW test can hold the fit to the published values.

Notation (per person, one time unit throughout, weeks in this project):
    x    repeat transactions (distinct order days after the first one),
    t_x  time from the first to the last transaction (recency),
    T    time from the first transaction to the as-of instant (age),
    m_x  mean value of the x repeat transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float


@dataclass(frozen=True)
class FitResult:
    """A fitted model: parameters, whether the optimiser converged, the log-likelihood, the persons fitted on
    and standard errors from the numerical Hessian of the log-likelihood (in the parameters' own scale)."""

    params: BgNbdParams | GammaGammaParams
    converged: bool
    log_likelihood: float
    n: int
    std_errors: dict[str, float]
    message: str


def _f(v: ArrayLike) -> Array:
    return np.asarray(v, dtype=np.float64)


# --------------------------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Per-person log-likelihood, FHL (2005) equation 6, in logs (gammaln, betaln) so large x stays finite."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _f(x), _f(t_x), _f(T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        a3 = np.where(x > 0,
                      special.betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - special.betaln(a, b)
                      - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    return a1 + np.logaddexp(a2, a3)


def _compress(*columns: Array) -> tuple[list[Array], Array]:
    """Unique rows and their counts: persons with the same (x, t_x, T) share one likelihood term."""
    stacked = np.column_stack(columns)
    uniq, counts = np.unique(stacked, axis=0, return_counts=True)
    return [uniq[:, i] for i in range(uniq.shape[1])], counts.astype(np.float64)


def _fit(neg_ll, names: list[str], start: Array) -> tuple[Array, bool, float, dict[str, float], str]:
    """Minimise over log-parameters (keeps them positive), then standard errors from the Hessian."""
    res = optimize.minimize(neg_ll, np.log(start), method="L-BFGS-B",
                            options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8})
    if not res.success or not np.all(np.isfinite(res.x)):  # a second, derivative-free attempt
        res2 = optimize.minimize(neg_ll, res.x if np.all(np.isfinite(res.x)) else np.log(start),
                                 method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-9, "fatol": 1e-10})
        if res2.fun <= res.fun or not res.success:
            res = res2
    theta = np.exp(res.x)
    errors = _std_errors(lambda p: neg_ll(np.log(p)), theta)
    return theta, bool(res.success) and bool(np.isfinite(res.fun)), float(-res.fun), dict(zip(names, errors)), str(
        res.message)


def _std_errors(neg_ll, theta: Array) -> list[float]:
    """Standard errors from a central-difference Hessian of the negative log-likelihood."""
    k = len(theta)
    h = np.maximum(np.abs(theta) * 1e-4, 1e-7)
    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(i, k):
            def at(di: float, dj: float, i: int = i, j: int = j) -> float:
                t = theta.copy()
                t[i] += di
                t[j] += dj
                return float(neg_ll(t))
            val = (at(h[i], h[j]) - at(h[i], -h[j]) - at(-h[i], h[j]) + at(-h[i], -h[j])) / (4 * h[i] * h[j])
            hess[i, j] = hess[j, i] = val
    try:
        cov = np.linalg.inv(hess)
        return [float(np.sqrt(v)) if v > 0 else float("nan") for v in np.diag(cov)]
    except np.linalg.LinAlgError:
        return [float("nan")] * k


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike,
              start: BgNbdParams = BgNbdParams(1.0, 1.0, 1.0, 1.0)) -> FitResult:
    """Maximum-likelihood BG/NBD fit. The alpha returned is in the time unit of t_x and T."""
    (ux, ut, uT), w = _compress(_f(x), _f(t_x), _f(T))
    scale = float(np.mean(uT)) or 1.0  # start alpha near the data's time scale

    def neg_ll(log_theta: Array) -> float:
        r, alpha, a, b = np.exp(log_theta)
        ll = bgnbd_log_likelihood(BgNbdParams(r, alpha, a, b), ux, ut, uT)
        value = -float(np.dot(w, ll))
        return value if np.isfinite(value) else 1e300

    s = np.array([start.r, start.alpha * scale, start.a, start.b])
    theta, ok, ll, se, msg = _fit(neg_ll, ["r", "alpha", "a", "b"], s)
    return FitResult(BgNbdParams(*map(float, theta)), ok, ll, int(w.sum()), se, msg)


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(still active at T | x, t_x, T), FHL (2005) equation 11; 1 for persons without repeat purchases."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _f(x), _f(t_x), _f(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + t_x))
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700.0)), 0.0)
    return 1.0 / (1.0 + odds)


def churn_risk(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike, horizon: ArrayLike) -> Array:
    """P(no transaction in (T, T + horizon] | x, t_x, T): the person dropped out, or is active and makes no
    purchase in the horizon.

    In BG/NBD a customer can only drop out right after a purchase, so an active customer's next purchase is
    not pre-empted by dropping out: with rate lambda it arrives after an Exp(lambda) wait, and
    P(none in h | active, lambda) = exp(-lambda h). Given activity at T, lambda's posterior is
    Gamma(r + x, alpha + T) (the purchases seen, and no purchase in (t_x, T]), so
        churn_risk = (1 - p_alive) + p_alive * ((alpha + T) / (alpha + T + h)) ** (r + x).
    tests/test_predictions.py checks it against a Monte-Carlo simulation of the process.
    """
    r, alpha = params.r, params.alpha
    x, T, h = _f(x), _f(T), _f(horizon)
    pa = p_alive(params, x, t_x, T)
    none_if_alive = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + h)))
    return (1.0 - pa) + pa * none_if_alive


def expected_transactions(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike,
                          horizon: ArrayLike) -> Array:
    """E[transactions in (T, T + horizon] | x, t_x, T], FHL (2005) equation 10."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T, h = _f(x), _f(t_x), _f(T), _f(horizon)
    z = h / (alpha + T + h)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + h)))
    numer = (a + b + x - 1) / (a - 1) * (1.0 - ratio * hyp)
    return numer * p_alive(params, x, t_x, T)


def median_wait_to_next(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """The wait s after T at which churn_risk(s) = 0.5: half the time the next order comes sooner. NaN when
    1 - p_alive >= 0.5 (no further order is the more likely outcome, however long one waits)."""
    r, alpha = params.r, params.alpha
    x, T = _f(x), _f(T)
    pa = p_alive(params, x, t_x, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (pa - 0.5) / pa  # ((alpha+T)/(alpha+T+s))**(r+x) = c
        s = (alpha + T) * (np.power(c, -1.0 / (r + x)) - 1.0)
    return np.where(pa > 0.5, s, np.nan)


def discounted_expected_transactions(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike,
                                     horizon: float, discount_per_unit: float, steps: int = 12) -> Array:
    """Sum over `steps` equal slices of the horizon of the expected transactions in the slice, each
    discounted to T at the slice's end: (1 + d) ** -(t / 1 unit)."""
    total = np.zeros_like(_f(x))
    previous = np.zeros_like(total)
    for k in range(1, steps + 1):
        t = horizon * k / steps
        cumulative = expected_transactions(params, x, t_x, T, t)
        total += (cumulative - previous) * (1.0 + discount_per_unit) ** (-t)
        previous = cumulative
    return total


# ---------------------------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike) -> Array:
    """Per-person log-likelihood of the mean spend m_x over x transactions (FHL 2005, RFM and CLV, eq. 3)."""
    p, q, g = params.p, params.q, params.gamma
    x, m = _f(x), _f(m_x)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x))


def fit_gamma_gamma(x: ArrayLike, m_x: ArrayLike,
                    start: GammaGammaParams = GammaGammaParams(1.0, 1.0, 1.0)) -> FitResult:
    """Maximum-likelihood Gamma-Gamma fit on persons with x > 0 repeat transactions of mean value m_x > 0."""
    x, m = _f(x), _f(m_x)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    (ux, um), w = _compress(x[keep], m[keep])

    def neg_ll(log_theta: Array) -> float:
        p, q, g = np.exp(log_theta)
        value = -float(np.dot(w, gamma_gamma_log_likelihood(GammaGammaParams(p, q, g), ux, um)))
        return value if np.isfinite(value) else 1e300

    s = np.array([start.p, start.q, start.gamma * max(float(np.median(m[keep])) if keep.any() else 1.0, 1e-9)])
    theta, ok, ll, se, msg = _fit(neg_ll, ["p", "q", "gamma"], s)
    return FitResult(GammaGammaParams(*map(float, theta)), ok, ll, int(w.sum()), se, msg)


def expected_order_value(params: GammaGammaParams, x: ArrayLike, m_x: ArrayLike) -> Array:
    """E[M | x, m_x] = p (gamma + x m_x) / (p x + q - 1); for x = 0 the population mean p gamma / (q - 1)."""
    p, q, g = params.p, params.q, params.gamma
    x = _f(x)
    m = np.where(x > 0, np.nan_to_num(_f(m_x), nan=0.0), 0.0)
    return p * (g + x * m) / (p * x + q - 1)


# ------------------------------------------------------------------------------------------ simulation
def simulate(params: BgNbdParams, spend: GammaGammaParams | None, T: ArrayLike, horizon: float,
             rng: np.random.Generator) -> dict[str, Array]:
    """Draws persons from the BG/NBD (and Gamma-Gamma) process, each observed from its first purchase at
    time 0 for T, then for `horizon` more. Returns x, t_x, T, m_x (calibration) and holdout counts."""
    T = _f(T)
    n = len(T)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    drop = rng.beta(params.a, params.b, n)
    nu = rng.gamma(spend.q, 1.0 / spend.gamma, n) if spend else np.ones(n)
    end = T + horizon
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    x = np.zeros(n)
    t_x = np.zeros(n)
    total = np.zeros(n)
    holdout = np.zeros(n)
    # BG/NBD: dropping out happens only right after a repeat purchase (none at the first one, time 0)
    active = alive.copy()
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        past = t[idx] > end[idx]
        active[idx[past]] = False
        idx = idx[~past]
        cal = t[idx] <= T[idx]
        ci = idx[cal]
        x[ci] += 1
        t_x[ci] = t[ci]
        if spend:
            total[ci] += rng.gamma(spend.p, 1.0 / nu[ci])
        holdout[idx[~cal]] += 1
        dropped = rng.random(len(idx)) < drop[idx]
        active[idx[dropped]] = False
    m_x = np.where(x > 0, total / np.maximum(x, 1), np.nan)
    return {"x": x, "t_x": t_x, "T": T, "m_x": m_x, "holdout": holdout}
