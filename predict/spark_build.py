"""`cdp build --target spark` in three steps, since dbt-spark's session method runs no dbt Python models: dbt
builds everything that does not depend on the predictions (the per-person summaries among it, in Spark SQL);
the prediction step (predict/spark.py) fits on the driver and scores on the executors; dbt builds the rest,
checking the two tables that step wrote (macros/predictions/written_by_driver.sql) and running their data
tests. Kept apart from predict/spark.py so the command line starts without importing pyspark."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

PREDICTION_MODELS = ("predictive_model_parameters", "customer_predictions")
DOWNSTREAM = tuple(f"{name}+" for name in PREDICTION_MODELS)  # the two tables and everything built on them


def build(run_dbt: Callable[..., int], run_predictions: Callable[[], int]) -> int:
    """dbt without the predictions and what reads them, then the prediction step, then dbt for the rest;
    stops at the first step that fails, so no step reads tables a failed step left from an earlier build.
    `run_dbt(select=..., exclude=...)` runs `dbt build` with that selection."""
    rc = run_dbt(exclude=DOWNSTREAM)
    if rc == 0:
        rc = run_predictions()
    if rc == 0:
        rc = run_dbt(select=DOWNSTREAM)
    return rc


def run_prediction_step(project_dir: Path, env: Mapping[str, str]) -> int:
    """predict.spark in a process of its own: the Spark session (and its embedded metastore) must be
    closed before the next dbt run opens it. Executors run this Python, which has predict/ installed."""
    child = {**env, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.call([sys.executable, "-m", "predict.spark"], cwd=project_dir, env=child)
