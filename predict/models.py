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

import math
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
    no_dropout: bool = False  # BG/NBD at its boundary a -> 0, b -> infinity: the NBD (Poisson-Gamma) limit


def _f(v: ArrayLike) -> Array:
    return np.asarray(v, dtype=np.float64)


# --------------------------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """Per-person log-likelihood, FHL (2005) equation 6, in logs (gammaln, betaln) so large x stays finite.
    The special functions depend on x alone, so they are evaluated once per distinct x."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _f(x), _f(t_x), _f(T)
    ux, inv = np.unique(x, return_inverse=True)
    base = special.betaln(a, b)
    g = (special.gammaln(r + ux) - special.gammaln(r) + r * np.log(alpha))[inv]
    b2 = (special.betaln(a, b + ux) - base)[inv]
    with np.errstate(invalid="ignore", divide="ignore"):
        b3 = np.where(ux > 0, special.betaln(a + 1, np.maximum(b + ux - 1, 1e-300)) - base, -np.inf)[inv]
        a2 = b2 - (r + x) * np.log(alpha + T)
        a3 = np.where(x > 0, b3 - (r + x) * np.log(alpha + t_x), -np.inf)
    return g + np.logaddexp(a2, a3)


def _pairs(x: Array, y: Array) -> tuple[Array, Array, Array]:
    """Distinct (x, y) pairs and each row's index into them; a complex key sorts exactly by (x, y)."""
    keys, inv = np.unique(x + 1j * y, return_inverse=True)
    return keys.real, keys.imag, inv.ravel()


def _fit(neg_ll_grad, names: list[str], start: Array) -> tuple[Array, bool, float, dict[str, float], str]:
    """Minimise over log-parameters (keeps them positive) with the analytic gradient, then standard errors
    from the Hessian (central differences of the gradient), by the delta method in the natural scale."""
    res = optimize.minimize(neg_ll_grad, np.log(start), jac=True, method="L-BFGS-B",
                            options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-7})
    if not res.success or not np.all(np.isfinite(res.x)):  # a second, derivative-free attempt
        res2 = optimize.minimize(lambda v: neg_ll_grad(v)[0], res.x if np.all(np.isfinite(res.x)) else np.log(start),
                                 method="Nelder-Mead", options={"maxiter": 20000, "xatol": 1e-9, "fatol": 1e-10})
        if res2.fun <= res.fun or not res.success:
            res = res2
    theta = np.exp(res.x)
    k = len(theta)
    hess = np.zeros((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = 1e-5
        hess[i] = (neg_ll_grad(res.x + step)[1] - neg_ll_grad(res.x - step)[1]) / 2e-5
    hess = (hess + hess.T) / 2
    try:
        var_log = np.diag(np.linalg.inv(hess))
        errors = [float(t * np.sqrt(v)) if v > 0 else float("nan") for t, v in zip(theta, var_log)]
    except np.linalg.LinAlgError:
        errors = [float("nan")] * k
    ok = bool(res.success) and bool(np.isfinite(res.fun))
    return theta, ok, float(-res.fun), dict(zip(names, errors)), str(res.message)


def fit_bgnbd(x: ArrayLike, t_x: ArrayLike, T: ArrayLike,
              start: BgNbdParams = BgNbdParams(1.0, 1.0, 1.0, 1.0)) -> FitResult:
    """Maximum-likelihood BG/NBD fit. The alpha returned is in the time unit of t_x and T. The digamma and
    beta terms depend on x alone and are evaluated once per distinct x."""
    x, t_x, T = _f(x), _f(t_x), _f(T)
    ux, inv = np.unique(x, return_inverse=True)
    inv = inv.ravel()
    repeat = x > 0
    n = float(len(x))
    scale = float(np.mean(T)) if len(T) else 1.0  # start alpha near the data's time scale

    def neg_ll_grad(log_theta: Array) -> tuple[float, Array]:
        r, alpha, a, b = np.exp(log_theta)
        if not np.all(np.isfinite([r, alpha, a, b])):
            return 1e300, np.zeros(4)
        dg = special.digamma
        base = special.betaln(a, b)
        g1 = special.gammaln(r + ux) - special.gammaln(r)
        c2 = special.betaln(a, b + ux) - base
        with np.errstate(invalid="ignore", divide="ignore"):
            bx1 = np.maximum(b + ux - 1, 1e-300)
            c3 = np.where(ux > 0, special.betaln(a + 1, bx1) - base, -np.inf)
        log_aT = np.log(alpha + T)
        log_at = np.log(alpha + t_x)
        rx = r + x
        a2 = c2[inv] - rx * log_aT
        a3 = np.where(repeat, c3[inv] - rx * log_at, -np.inf)
        mix = np.logaddexp(a2, a3)
        ll = g1[inv].sum() + n * r * np.log(alpha) + mix.sum()
        if not np.isfinite(ll):
            return 1e300, np.zeros(4)
        w2 = np.exp(a2 - mix)
        w3 = 1.0 - w2
        d_r = (dg(r + ux) - dg(r))[inv].sum() + n * np.log(alpha) - (w2 * log_aT + w3 * log_at).sum()
        d_alpha = n * r / alpha - (w2 * rx / (alpha + T) + w3 * rx / (alpha + t_x)).sum()
        dab, dabx = dg(a + b), dg(a + b + ux)
        da2 = dab - dabx
        da3 = dg(a + 1) - dabx - dg(a) + dab
        db2 = dg(b + ux) - dabx - dg(b) + dab
        db3 = np.where(ux > 0, dg(bx1) - dabx - dg(b) + dab, 0.0)
        d_a = (w2 * da2[inv] + w3 * da3[inv]).sum()
        d_b = (w2 * db2[inv] + w3 * db3[inv]).sum()
        grad = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
        return -float(ll), -grad

    s = np.array([start.r, start.alpha * scale, start.a, start.b])
    theta, ok, ll, se, msg = _fit(neg_ll_grad, ["r", "alpha", "a", "b"], s)
    return FitResult(BgNbdParams(*map(float, theta)), ok, ll, len(x), se, msg)


# BG/NBD's dropout probability p ~ Beta(a, b) has mean a / (a + b). Below this the estimate has run to the
# boundary a -> 0, b -> infinity (nobody drops out), where the optimiser stops anywhere along a flat ridge.
NO_DROPOUT_MEAN_P = 1e-3


def fit_nbd(x: ArrayLike, T: ArrayLike, start: tuple[float, float] = (1.0, 1.0)) -> FitResult:
    """Maximum-likelihood NBD (Poisson purchases at a Gamma(r, alpha) distributed rate, nobody drops out):
    the limit of BG/NBD as a -> 0 or b -> infinity, with the same r and alpha. Per person the likelihood is
    Gamma(r + x) / Gamma(r) * alpha^r / (alpha + T)^(r + x) (the BG/NBD's first term with the beta ratio 1)."""
    x, T = _f(x), _f(T)
    ux, inv = np.unique(x, return_inverse=True)
    inv = inv.ravel()
    n = float(len(x))
    scale = float(np.mean(T)) if len(T) else 1.0

    def neg_ll_grad(log_theta: Array) -> tuple[float, Array]:
        r, alpha = np.exp(log_theta)
        if not np.all(np.isfinite([r, alpha])):
            return 1e300, np.zeros(2)
        log_aT = np.log(alpha + T)
        rx = r + x
        ll = (special.gammaln(r + ux) - special.gammaln(r))[inv].sum() + n * r * np.log(alpha) - (rx * log_aT).sum()
        if not np.isfinite(ll):
            return 1e300, np.zeros(2)
        d_r = (special.digamma(r + ux) - special.digamma(r))[inv].sum() + n * np.log(alpha) - log_aT.sum()
        d_alpha = n * r / alpha - (rx / (alpha + T)).sum()
        return -float(ll), -np.array([d_r * r, d_alpha * alpha])

    theta, ok, ll, se, msg = _fit(neg_ll_grad, ["r", "alpha"], np.array([start[0], start[1] * scale]))
    return FitResult(BgNbdParams(float(theta[0]), float(theta[1]), 0.0, math.inf), ok, ll, len(x),
                     {**se, "a": float("nan"), "b": float("nan")}, msg, no_dropout=True)


def fit_bgnbd_or_no_dropout(x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FitResult:
    """The BG/NBD fit, or, when its likelihood's maximum lies on the boundary a -> 0, b -> infinity (nobody
    in the data drops out), the no-dropout limit it tends to: the NBD fit, whose likelihood is the supremum
    the BG/NBD optimiser approaches (it stops on a flat ridge, converged or not, with a and b anywhere along
    it). The limit is taken only when the BG/NBD estimate failed or sits at the boundary, and the NBD
    explains the data at least as well (log-likelihood within a relative 1e-7)."""
    bg = fit_bgnbd(x, t_x, T)
    r, alpha, a, b = bg.params.r, bg.params.alpha, bg.params.a, bg.params.b
    usable = bg.converged and all(math.isfinite(v) for v in (r, alpha, a, b, bg.log_likelihood))
    if usable and a / (a + b) >= NO_DROPOUT_MEAN_P:
        return bg
    nbd = fit_nbd(x, T)
    tolerance = 1e-7 * abs(nbd.log_likelihood) + 1e-6
    if nbd.converged and (not usable or nbd.log_likelihood >= bg.log_likelihood - tolerance):
        return nbd
    return bg


def p_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> Array:
    """P(still active at T | x, t_x, T), FHL (2005) equation 11; 1 for persons without repeat purchases."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _f(x), _f(t_x), _f(T)
    if a == 0.0:  # the no-dropout limit: everybody stays active
        return np.ones_like(x)
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
                          horizon: float) -> Array:
    """E[transactions in (T, T + horizon] | x, t_x, T], FHL (2005) equation 10. The Gauss hypergeometric
    term depends on (x, T) only: it is evaluated once per distinct pair. In the no-dropout limit (a = 0) it is
    the Poisson-Gamma expectation h (r + x) / (alpha + T)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = _f(x), _f(t_x), _f(T)
    kh = float(horizon)
    if a == 0.0:
        return kh * (r + x) / (alpha + T)
    kx, kT, inv = _pairs(x, T)
    z = kh / (alpha + kT + kh)
    hyp = special.hyp2f1(r + kx, b + kx, a + b + kx - 1, z)
    ratio = np.exp((r + kx) * (np.log(alpha + kT) - np.log(alpha + kT + kh)))
    numer = ((a + b + kx - 1) / (a - 1) * (1.0 - ratio * hyp))[inv]
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
    """Per-person log-likelihood of the mean spend m_x over x transactions (FHL 2005, RFM and CLV, eq. 3);
    the gamma functions are evaluated once per distinct x."""
    p, q, g = params.p, params.q, params.gamma
    x, m = _f(x), _f(m_x)
    ux, inv = np.unique(x, return_inverse=True)
    gam = (special.gammaln(p * ux + q) - special.gammaln(p * ux) - special.gammaln(q))[inv]
    px = p * x
    return gam + q * np.log(g) + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x)


def fit_gamma_gamma(x: ArrayLike, m_x: ArrayLike,
                    start: GammaGammaParams = GammaGammaParams(1.0, 1.0, 1.0)) -> FitResult:
    """Maximum-likelihood Gamma-Gamma fit on persons with x > 0 repeat transactions of mean value m_x > 0."""
    x, m = _f(x), _f(m_x)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    ux, inv = np.unique(x, return_inverse=True)
    inv = inv.ravel()
    log_m, log_x, n = np.log(m), np.log(x), float(len(x))
    const = float((x * (log_m + log_x)).sum())  # sum of x (ln m + ln x), the part of p's term without p

    def neg_ll_grad(log_theta: Array) -> tuple[float, Array]:
        p, q, g = np.exp(log_theta)
        if not np.all(np.isfinite([p, q, g])):
            return 1e300, np.zeros(3)
        px = p * x
        log_gmx = np.log(g + m * x)
        gam = special.gammaln(p * ux + q) - special.gammaln(p * ux) - special.gammaln(q)
        ll = gam[inv].sum() + n * q * np.log(g) + p * const - log_m.sum() - ((px + q) * log_gmx).sum()
        if not np.isfinite(ll):
            return 1e300, np.zeros(3)
        dg_pq = special.digamma(p * ux + q)
        d_p = (ux * (dg_pq - special.digamma(p * ux)))[inv].sum() + const - (x * log_gmx).sum()
        d_q = (dg_pq[inv] - special.digamma(q)).sum() + n * np.log(g) - log_gmx.sum()
        d_g = n * q / g - ((px + q) / (g + m * x)).sum()
        return -float(ll), -np.array([d_p * p, d_q * q, d_g * g])

    s = np.array([start.p, start.q, start.gamma * max(float(np.median(m)) if len(m) else 1.0, 1e-9)])
    theta, ok, ll, se, msg = _fit(neg_ll_grad, ["p", "q", "gamma"], s)
    return FitResult(GammaGammaParams(*map(float, theta)), ok, ll, len(x), se, msg)


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
