"""Backtest: fit on the order days up to a calibration end, predict the holdout period that follows, and
compare with what happened: repeat orders in total, by number of calibration repeat orders (the paper's
conditional-expectation chart), week by week cumulative, and the AUC of churn risk against "no order in the
holdout". Writes Markdown and PNG charts; the Dagster asset prediction_backtest shows the same Markdown.

It reads the order days of the current build (int_person_order_days), so persons are resolved with all the
data; only orders up to the calibration end enter the fit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from predict import models as m
from predict import warehouse


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative
    (ties count half), from ranks (Mann-Whitney U)."""
    score = np.asarray(score, dtype=float)
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(score).rank(method="average").to_numpy()
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass
class BacktestResult:
    markdown: str
    report_path: Path
    charts: list[Path]
    auc_churn_risk: float
    predicted_total: float
    actual_total: float
    params: m.BgNbdParams


def run_backtest(order_days: pd.DataFrame, calibration_end: date, holdout_end: date, out_dir: Path,
                 min_persons: int = 20) -> BacktestResult:
    """order_days: person_id, order_day, order_value (every order day the warehouse has)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if holdout_end <= calibration_end:
        raise ValueError(f"holdout end {holdout_end} must be after the calibration end {calibration_end}")
    days = order_days.assign(order_day=pd.to_datetime(order_days["order_day"]))
    cal = warehouse.summarise(days, calibration_end)
    if len(cal) < min_persons:
        raise ValueError(f"only {len(cal)} persons ordered by {calibration_end}: too few to fit")
    fitted = warehouse.fit(cal, min_persons)
    if fitted.bgnbd is None or not fitted.bgnbd.converged:
        raise ValueError("the BG/NBD fit on the calibration period did not converge")
    params = fitted.bgnbd.params
    assert isinstance(params, m.BgNbdParams)
    cal_end, hold_end = pd.Timestamp(calibration_end), pd.Timestamp(holdout_end)
    holdout_weeks = (hold_end - cal_end).days / warehouse.DAYS_PER_WEEK
    hold = days[(days["order_day"] > cal_end) & (days["order_day"] <= hold_end)]
    hold = hold[hold["person_id"].isin(cal["person_id"])].drop_duplicates(["person_id", "order_day"])
    actual = hold.groupby("person_id").size().reindex(cal["person_id"], fill_value=0).to_numpy()
    x, t_x, T = cal["x"].to_numpy(), cal["t_x"].to_numpy(), cal["T"].to_numpy()
    predicted = m.expected_transactions(params, x, t_x, T, holdout_weeks)
    risk = m.churn_risk(params, x, t_x, T, holdout_weeks)
    palive = m.p_alive(params, x, t_x, T)
    no_order = actual == 0
    auc_risk, auc_palive = auc(risk, no_order), auc(1 - palive, no_order)

    # by number of calibration repeat orders (0..6, 7+)
    bucket = np.minimum(x, 7).astype(int)
    by_x = pd.DataFrame({"x": bucket, "predicted": predicted, "actual": actual}).groupby("x").agg(
        persons=("actual", "size"), predicted=("predicted", "mean"), actual=("actual", "mean"))
    # week by week cumulative repeat orders in the holdout
    weeks = np.arange(1, int(np.ceil(holdout_weeks)) + 1)
    cum_pred = [float(m.expected_transactions(params, x, t_x, T, min(w, holdout_weeks)).sum()) for w in weeks]
    week_of = ((hold["order_day"] - cal_end).dt.days - 1) // 7 + 1
    cum_actual = np.cumsum(np.bincount(week_of.to_numpy(dtype=int), minlength=len(weeks) + 1)[1:len(weeks) + 1])

    out_dir.mkdir(parents=True, exist_ok=True)
    charts = [out_dir / "backtest_by_calibration_orders.png", out_dir / "backtest_weekly_cumulative.png"]
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{i}" if i < 7 else "7+" for i in by_x.index]
    ax.plot(labels, by_x["actual"], marker="o", label="actual")
    ax.plot(labels, by_x["predicted"], marker="s", linestyle="--", label="BG/NBD")
    ax.set_xlabel("repeat orders in the calibration period")
    ax.set_ylabel(f"mean repeat orders in the {holdout_weeks:.0f}-week holdout")
    ax.set_title("Conditional expectations: predicted vs actual")
    ax.legend()
    fig.tight_layout()
    fig.savefig(charts[0], dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(weeks, cum_actual, label="actual")
    ax.plot(weeks, cum_pred, linestyle="--", label="BG/NBD")
    ax.set_xlabel(f"weeks after the calibration end ({calibration_end})")
    ax.set_ylabel("cumulative repeat orders")
    ax.set_title("Holdout tracking: cumulative repeat orders")
    ax.legend()
    fig.tight_layout()
    fig.savefig(charts[1], dpi=110)
    plt.close(fig)

    param_rows = "\n".join(f"| {k} | {v:.4g} | {fitted.bgnbd.std_errors[k]:.3g} |" for k, v in vars(params).items())
    gg_line = ""
    if fitted.gamma_gamma is not None:
        gg_line = "Gamma-Gamma: " + ", ".join(f"{k} = {v:.4g}" for k, v in vars(fitted.gamma_gamma.params).items())
    by_x_rows = "\n".join(f"| {lab} | {int(r.persons):,} | {r.predicted:.3f} | {r.actual:.3f} |"
                          for lab, r in zip(labels, by_x.itertuples()))
    markdown = f"""# Prediction backtest

Calibration: orders up to **{calibration_end}**; holdout: {calibration_end} to **{holdout_end}**
({holdout_weeks:.1f} weeks). {len(cal):,} persons had ordered by the calibration end.

| | predicted | actual |
| --- | --- | --- |
| repeat orders in the holdout | {predicted.sum():,.0f} | {actual.sum():,.0f} |
| persons with no order in the holdout | {risk.sum():,.0f} | {no_order.sum():,.0f} |

AUC against "no order in the holdout": churn risk **{auc_risk:.3f}**; 1 - p_alive {auc_palive:.3f}.

BG/NBD fitted on the calibration period (time unit: week):

| parameter | value | std. error |
| --- | --- | --- |
{param_rows}

{gg_line}

Mean repeat orders in the holdout by repeat orders in the calibration period:

| calibration repeat orders | persons | predicted | actual |
| --- | --- | --- | --- |
{by_x_rows}

![by calibration orders]({charts[0].name})
![weekly cumulative]({charts[1].name})
"""
    report = out_dir / "backtest.md"
    report.write_text(markdown, encoding="utf-8")
    return BacktestResult(markdown, report, charts, auc_risk, float(predicted.sum()), float(actual.sum()), params)


def read_order_days(duckdb_path: Path) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return con.execute("select person_id, order_day, order_value from int_person_order_days").df()


def default_window(order_days: pd.DataFrame, holdout_weeks: int = 26) -> tuple[date, date]:
    """The last `holdout_weeks` weeks of the data as holdout, everything before as calibration."""
    end = pd.to_datetime(order_days["order_day"]).max().date()
    return (pd.Timestamp(end) - pd.Timedelta(weeks=holdout_weeks)).date(), end
