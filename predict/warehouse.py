"""From warehouse rows to model inputs, fitted parameters and per-person predictions. The dbt Python models
(models/marts/predictions/), the Spark driver step (predict/spark.py) and the backtest call these. The builds
read the per-person inputs from int_person_order_summary (SQL, the same on every engine); the backtest cuts
order days at other instants and summarises them here (`summarise`, the same definition in pandas).

Time is counted in whole days between order dates and the as-of date, as the papers do (a first purchase on
1 January 1997 with calibration through 30 September is 272 days = 38.86 weeks old), and models are fitted in
weeks. A transaction is a distinct order day (paid or shipped orders of that day summed)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, UTC

import numpy as np
import pandas as pd

from predict import models as m

DAYS_PER_WEEK = 7.0
WEEKS_PER_YEAR = 365.25 / 7.0
PARAMETER_COLUMNS = ["model", "parameter", "value", "time_unit", "fitted_on_persons", "as_of", "std_error",
                     "fit_status"]
USABLE_FITS = ("converged", "boundary_no_dropout")  # fit statuses whose parameters score persons
PREDICTION_COLUMNS = ["person_id", "p_alive", "churn_risk", "expected_orders", "horizon_days",
                      "expected_order_value", "predicted_clv", "predicted_next_order_at", "model_fitted_at",
                      "prediction_basis"]


def as_of_date(as_of: datetime | date | pd.Timestamp) -> date:
    return pd.Timestamp(as_of).date()


def summarise(order_days: pd.DataFrame, as_of: datetime | date | pd.Timestamp) -> pd.DataFrame:
    """Per person with orders: x (repeat order days), t_x and T in weeks, m_x (mean value of the repeat order
    days, NaN when x = 0), first and last order day. `order_days` has person_id, order_day, order_value;
    days after the as-of date are ignored."""
    cut = pd.Timestamp(as_of_date(as_of))
    days = order_days.assign(order_day=pd.to_datetime(order_days["order_day"]))
    # sorted first, so sums (and the fit) do not depend on the order the warehouse returned rows in
    days = days[days["order_day"] <= cut].sort_values(["person_id", "order_day", "order_value"], kind="stable")
    days = days.groupby(["person_id", "order_day"], as_index=False, sort=False)["order_value"].sum()
    grouped = days.groupby("person_id", sort=True)
    first = grouped["order_day"].min()
    out = pd.DataFrame({
        "first_order_day": first,
        "last_order_day": grouped["order_day"].max(),
        "n_days": grouped["order_day"].size(),
        "total_value": grouped["order_value"].sum().astype(float),
    })
    first_value = days.merge(first.rename("first_day"), left_on="person_id", right_index=True)
    first_value = first_value[first_value["order_day"] == first_value["first_day"]].set_index("person_id")["order_value"]
    out["x"] = (out["n_days"] - 1).astype(float)
    out["t_x"] = (out["last_order_day"] - out["first_order_day"]).dt.days / DAYS_PER_WEEK
    out["T"] = (cut - out["first_order_day"]).dt.days / DAYS_PER_WEEK
    repeat_value = out["total_value"] - first_value.reindex(out.index).astype(float)
    out["m_x"] = np.where(out["x"] > 0, repeat_value / out["x"].where(out["x"] > 0), np.nan)
    return out.reset_index()


# int_person_order_summary's columns, named for analysts, and the models' names for them
SUMMARY_COLUMNS = {"repeat_order_days": "x", "recency_weeks": "t_x", "age_weeks": "T", "mean_repeat_value": "m_x"}


def from_summary_table(rows: pd.DataFrame) -> pd.DataFrame:
    """int_person_order_summary (computed in the warehouse, on every target) in the shape `summarise`
    returns: x, t_x, T and m_x (NaN without a repeat day) beside person_id, n_days and total_value."""
    out = rows.rename(columns=SUMMARY_COLUMNS)
    out["person_id"] = out["person_id"].astype(str)
    for column in ("x", "t_x", "T", "m_x", "total_value"):
        if column in out:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype(float)
    return out


def mean_order_value(summary: pd.DataFrame) -> float | None:
    """The population's mean value of an order day: what a buyer is expected to spend per order day when
    Gamma-Gamma could not be fitted."""
    total_days = float(summary["n_days"].sum()) if len(summary) else 0.0
    return float(summary["total_value"].sum()) / total_days if total_days else None


@dataclass(frozen=True)
class Fitted:
    bgnbd: m.FitResult | None
    gamma_gamma: m.FitResult | None
    mean_order_value: float | None  # used for expected_order_value when Gamma-Gamma could not be fitted


def fit(summary: pd.DataFrame, min_persons: int = 20) -> Fitted:
    """BG/NBD on every buyer (or its no-dropout limit, when nobody in the data drops out); Gamma-Gamma on
    repeat buyers with a positive mean repeat value. A model with fewer than `min_persons` persons to fit on
    is not fitted (None)."""
    combinations = summary.groupby(["x", "t_x", "T"], as_index=False).size().rename(columns={"size": "persons"})
    repeat = summary.loc[(summary["x"] > 0) & (summary["m_x"] > 0), ["x", "m_x"]]
    return fit_combinations(combinations, repeat, mean_order_value(summary), min_persons)


def fit_combinations(combinations: pd.DataFrame, repeat: pd.DataFrame, mean_order_value: float | None,
                     min_persons: int = 20) -> Fitted:
    """The fit from what the likelihoods need, which a warehouse can aggregate before the data reaches the
    fitting process: the distinct (x, t_x, T) with their number of persons (`persons`) for BG/NBD, and (x,
    m_x) of each repeat buyer for Gamma-Gamma. Rows are put in an order that depends on the values only (not
    on person ids or on the order the warehouse returned them), so the sums in the likelihood, and therefore
    the fit, are the same on every engine for the same order days."""
    bg = None
    combinations = combinations.sort_values(["x", "t_x", "T"], kind="stable")
    counts = combinations["persons"].to_numpy(dtype=np.int64)
    x, t_x, T = (np.repeat(combinations[c].to_numpy(dtype=float), counts) for c in ("x", "t_x", "T"))
    if len(x) >= min_persons and (x > 0).sum() > 0:
        bg = m.fit_bgnbd_or_no_dropout(x, t_x, T)
    repeat = repeat.sort_values(["x", "m_x"], kind="stable")
    gg = m.fit_gamma_gamma(repeat["x"], repeat["m_x"]) if len(repeat) >= min_persons else None
    return Fitted(bg, gg, mean_order_value)


def _status(result: m.FitResult | None, ranges: dict[str, list[float]] | None = None) -> str:
    """The optimiser's verdict. A converged fit whose estimate lies outside `ranges` (var
    prediction_parameter_ranges: open intervals) is `outside_sane_range`: on small or homogeneous data the
    likelihood can peak at a boundary (Gamma-Gamma with p -> infinity and gamma -> 0 when every buyer spends
    alike). Such a model is not used for scoring (the population mean order value stands in for
    Gamma-Gamma; without BG/NBD every figure is null with basis insufficient_data), and the run summary shows
    the status; the blocking check (data-tests/assert_predictions_sane.sql) fails only on not_converged and
    on converged values out of range, so a degenerate fit on a small data set does not stop the build.

    A BG/NBD whose maximum lies at a -> 0, b -> infinity (nobody drops out) is `boundary_no_dropout`: a
    result, the no-dropout model (predict.models.fit_nbd), scored with p_alive = 1; only its r and alpha are
    held to the ranges."""
    if result is None:
        return "insufficient_data"
    values = vars(result.params)
    if result.no_dropout:
        values = {"r": values["r"], "alpha": values["alpha"]}
    if not (result.converged and all(math.isfinite(v) for v in values.values())):
        return "not_converged"
    for name, value in values.items():
        low, high = (ranges or {}).get(name, (-math.inf, math.inf))
        if not low < value < high:
            return "outside_sane_range"
    return "boundary_no_dropout" if result.no_dropout else "converged"


def parameter_rows(fitted: Fitted, as_of: datetime | pd.Timestamp, n_bgnbd: int, n_gg: int,
                   ranges: dict[str, dict[str, list[float]]] | None = None) -> pd.DataFrame:
    """predictive_model_parameters: one row per model parameter (value null when the model was not fitted)."""
    rows = []
    for model, names, result, unit, n in (("bg_nbd", ["r", "alpha", "a", "b"], fitted.bgnbd, "week", n_bgnbd),
                                          ("gamma_gamma", ["p", "q", "gamma"], fitted.gamma_gamma, None, n_gg)):
        status = _status(result, (ranges or {}).get(model))
        for name in names:
            value = getattr(result.params, name) if result else None
            value = None if value is not None and math.isinf(value) else value  # b of the no-dropout limit
            se = result.std_errors.get(name) if result else None
            rows.append([model, name, value, unit, n, pd.Timestamp(as_of), se, status])
    return pd.DataFrame(rows, columns=PARAMETER_COLUMNS)


def params_from_rows(rows: pd.DataFrame) -> tuple[m.BgNbdParams | None, m.GammaGammaParams | None]:
    """Parameters back from predictive_model_parameters rows (None for a model not fitted or not converged);
    a boundary_no_dropout BG/NBD comes back as a = 0, b = infinity (stored as null), the no-dropout limit."""
    def get(model: str) -> dict[str, float] | None:
        part = rows[rows["model"] == model]
        if part.empty or not part["fit_status"].isin(USABLE_FITS).all():
            return None
        values = dict(zip(part["parameter"], part["value"].astype(float)))
        if (part["fit_status"] == "boundary_no_dropout").all():
            values.update(a=0.0, b=math.inf)
        return values

    bg, gg = get("bg_nbd"), get("gamma_gamma")
    return (m.BgNbdParams(**bg) if bg else None, m.GammaGammaParams(**gg) if gg else None)


def score(persons: pd.Series, summary: pd.DataFrame, bg: m.BgNbdParams | None, gg: m.GammaGammaParams | None,
          as_of: datetime | pd.Timestamp, horizon_days: int, annual_discount_rate: float,
          mean_order_value: float | None = None, fitted_at: datetime | None = None) -> pd.DataFrame:
    """customer_predictions for every person in `persons`. Persons without orders are scored from the
    population prior, as a customer acquired at the as-of instant (x = 0, t_x = 0, T = 0), and say so in
    prediction_basis; without a fitted BG/NBD every figure is null and the basis is insufficient_data."""
    fitted_at = fitted_at or datetime.now(UTC).replace(tzinfo=None)
    frame = pd.DataFrame({"person_id": persons.astype(str).unique()})
    frame = frame.merge(summary[["person_id", "x", "t_x", "T", "m_x"]], on="person_id", how="left")
    has_orders = frame["x"].notna()
    x = frame["x"].fillna(0.0).to_numpy()
    t_x = frame["t_x"].fillna(0.0).to_numpy()
    T = frame["T"].fillna(0.0).to_numpy()
    m_x = frame["m_x"].to_numpy(dtype=float)
    h = horizon_days / DAYS_PER_WEEK
    out = pd.DataFrame({"person_id": frame["person_id"]})
    out["horizon_days"] = int(horizon_days)
    out["model_fitted_at"] = pd.Timestamp(fitted_at)
    if bg is None:
        for col in ("p_alive", "churn_risk", "expected_orders", "expected_order_value", "predicted_clv"):
            out[col] = np.nan
        out["predicted_next_order_at"] = pd.NaT
        out["prediction_basis"] = "insufficient_data"
        return out[PREDICTION_COLUMNS]
    out["p_alive"] = m.p_alive(bg, x, t_x, T)
    out["churn_risk"] = m.churn_risk(bg, x, t_x, T, h)
    out["expected_orders"] = m.expected_transactions(bg, x, t_x, T, h)
    if gg is not None:
        value = m.expected_order_value(gg, x, m_x)
    else:
        value = np.full(len(x), np.nan if mean_order_value is None else mean_order_value)
    out["expected_order_value"] = value
    weekly = (1.0 + annual_discount_rate) ** (1.0 / WEEKS_PER_YEAR) - 1.0
    out["predicted_clv"] = value * m.discounted_expected_transactions(bg, x, t_x, T, h, weekly)
    wait_days = m.median_wait_to_next(bg, x, t_x, T) * DAYS_PER_WEEK
    base = pd.Timestamp(as_of)
    finite = np.isfinite(wait_days) & (wait_days < 365.25 * 200)
    next_at = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
    next_at[finite] = base + pd.to_timedelta(np.round(wait_days[finite] * 86400), unit="s")
    out["predicted_next_order_at"] = next_at
    out["prediction_basis"] = np.where(has_orders, "order_history", "prior_no_orders")
    return out[PREDICTION_COLUMNS]

