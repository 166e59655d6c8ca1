"""Prediction benchmark: fit (BG/NBD and Gamma-Gamma, maximum likelihood) and score (p_alive, churn risk,
expected orders, expected order value, discounted CLV over 12 monthly steps, next order) for N persons drawn
from the sample data's planted process, with ages and recencies in whole days as the warehouse gives them.
The issue's target: 1M persons fit and scored in at most 30 s on 2 cores. Writes bench/results/predict.md.

    python bench/predict_bench.py [--persons 1000000] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from datagen.sample_data import PLANTED_BG_NBD, PLANTED_GAMMA_GAMMA
from predict import models as m
from predict import warehouse

RESULTS = Path(__file__).with_name("results") / "predict.md"
TARGET_SECONDS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    ns = parser.parse_args()
    rng = np.random.default_rng(ns.seed)
    bg, gg = m.BgNbdParams(**PLANTED_BG_NBD), m.GammaGammaParams(**PLANTED_GAMMA_GAMMA)
    t0 = time.perf_counter()
    age_days = rng.integers(1, 1000, ns.persons)
    sim = m.simulate(bg, gg, age_days / 7.0, 0.0, rng)
    summary = pd.DataFrame({
        "person_id": [f"p{i}" for i in range(ns.persons)],
        "x": sim["x"], "t_x": np.floor(sim["t_x"] * 7) / 7, "T": sim["T"], "m_x": np.round(sim["m_x"], 2),
        "n_days": sim["x"] + 1, "total_value": 0.0,
    })
    simulated_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    fitted = warehouse.fit(summary)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    predictions = warehouse.score(summary["person_id"], summary, fitted.bgnbd.params, fitted.gamma_gamma.params,
                                  datetime(2026, 9, 30), 365, 0.10)
    score_s = time.perf_counter() - t0
    assert predictions["churn_risk"].between(0, 1).all()

    # fitting on a sample instead: how far do the parameters move?
    sample_rows = []
    for size in (100_000, 250_000):
        if size >= ns.persons:
            continue
        part = summary.sample(size, random_state=ns.seed)
        t1 = time.perf_counter()
        sf = warehouse.fit(part)
        took = time.perf_counter() - t1
        worst = max(abs(getattr(r.params, k) / getattr(f.params, k) - 1)
                    for r, f in ((sf.bgnbd, fitted.bgnbd), (sf.gamma_gamma, fitted.gamma_gamma))
                    for k in vars(f.params))
        sample_rows.append(f"| {size:,} | {took:.1f} | {worst:.2%} |")

    total = fit_s + score_s
    verdict = "met" if total <= TARGET_SECONDS else "not met"
    params = ", ".join(f"{k}={v:.4g}" for k, v in {**vars(fitted.bgnbd.params), **vars(fitted.gamma_gamma.params)}.items())
    report = f"""# Prediction benchmark

`python bench/predict_bench.py --persons {ns.persons}` on {os.cpu_count()} cores ({datetime.now():%Y-%m-%d}).
Persons drawn from the planted process (datagen/sample_data.py) in {simulated_s:.1f} s (not counted).

| persons | fit (s) | score (s) | fit + score (s) | target (s) | verdict |
| --- | --- | --- | --- | --- | --- |
| {ns.persons:,} | {fit_s:.1f} | {score_s:.1f} | {total:.1f} | {TARGET_SECONDS:.0f} | {verdict} |

Full fit: {params} (planted: {PLANTED_BG_NBD} and {PLANTED_GAMMA_GAMMA}).

Fitting on a random sample instead (largest relative change of any parameter against the full fit):

| sample | fit (s) | largest parameter change |
| --- | --- | --- |
{chr(10).join(sample_rows)}
"""
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
