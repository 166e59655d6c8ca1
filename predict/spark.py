"""The prediction step of a Spark build (predict/spark_build.py runs it between two dbt runs, since dbt-spark's
session method runs no dbt Python models): fits BG/NBD and Gamma-Gamma on the driver from the per-person
summaries Spark SQL computed (int_person_order_summary), scores every person on the executors, and writes
predictive_model_parameters and customer_predictions as tables of dbt's schema.

The fit and the scoring are the predict/ code the DuckDB Python models run, so both targets give the same
numbers: the driver receives only what the likelihoods need, the distinct (x, t_x, T) with their number of
persons and (x, m_x) of each repeat buyer (`warehouse.fit_combinations`), and each executor partition of
persons is scored by `warehouse.score`. The Spark session is configured from profiles.yml's spark output,
so this step shares dbt's warehouse folder and metastore, and on a cluster it runs where dbt's does."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import yaml
from pyspark.sql import SparkSession
from pyspark.sql import types as st

from predict import models as m
from predict import warehouse

SUMMARY = "int_person_order_summary"
SUMMARY_INPUTS = ["person_id", "repeat_order_days", "recency_weeks", "age_weeks", "mean_repeat_value"]

PARAMETER_SCHEMA = st.StructType([
    st.StructField("model", st.StringType()), st.StructField("parameter", st.StringType()),
    st.StructField("value", st.DoubleType()), st.StructField("time_unit", st.StringType()),
    st.StructField("fitted_on_persons", st.LongType()), st.StructField("as_of", st.TimestampType()),
    st.StructField("std_error", st.DoubleType()), st.StructField("fit_status", st.StringType()),
])
PREDICTION_SCHEMA = st.StructType([
    st.StructField("person_id", st.StringType()), st.StructField("p_alive", st.DoubleType()),
    st.StructField("churn_risk", st.DoubleType()), st.StructField("expected_orders", st.DoubleType()),
    st.StructField("horizon_days", st.LongType()), st.StructField("expected_order_value", st.DoubleType()),
    st.StructField("predicted_clv", st.DoubleType()), st.StructField("predicted_next_order_at", st.TimestampType()),
    st.StructField("model_fitted_at", st.TimestampType()), st.StructField("prediction_basis", st.StringType()),
])


# ------------------------------------------------------------------------------------------ Spark session
def spark_profile(project_dir: Path, env: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The schema and session parameters of profiles.yml's spark output, rendered as dbt renders them."""
    text = (project_dir / "profiles.yml").read_text(encoding="utf-8")
    rendered = jinja2.Template(text).render(env_var=lambda name, default="": env.get(name, default))
    output = yaml.safe_load(rendered)["cdp"]["outputs"]["spark"]
    return output["schema"], {k: str(v) for k, v in (output.get("server_side_parameters") or {}).items()}


def spark_session(parameters: Mapping[str, str]) -> SparkSession:
    builder = SparkSession.builder.enableHiveSupport().appName("cdp-predictions")
    for key, value in parameters.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# ------------------------------------------------------------------------------------------------- values
def _spark_value(value: object) -> object:
    """A pandas/numpy cell as Spark takes it: NaN and NaT as null (as DuckDB stores them), instants as UTC."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return pd.Timestamp(value).to_pydatetime().replace(tzinfo=UTC)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    return value


def _rows(frame: pd.DataFrame) -> Iterator[tuple]:
    for record in frame.itertuples(index=False, name=None):
        yield tuple(_spark_value(v) for v in record)


def _ranges(text: str) -> dict:
    """var prediction_parameter_ranges as JSON; a --vars override may hand it over as a string of a dict."""
    value = json.loads(text)
    return yaml.safe_load(value) if isinstance(value, str) else value


# ------------------------------------------------------------------------------------------ fit and score
def fit_on_driver(spark: SparkSession, schema: str, min_persons: int, ranges: dict, as_of: pd.Timestamp,
                  mean_value: float | None) -> pd.DataFrame:
    """predictive_model_parameters, fitted on the driver from the aggregates Spark computes."""
    summary = f"{schema}.{SUMMARY}"
    combinations = spark.sql(f"""
        select repeat_order_days as x, recency_weeks as t_x, age_weeks as T, count(*) as persons
        from {summary} group by repeat_order_days, recency_weeks, age_weeks""").toPandas()
    repeat = spark.sql(f"""
        select repeat_order_days as x, mean_repeat_value as m_x from {summary}
        where repeat_order_days > 0 and mean_repeat_value > 0""").toPandas()
    fitted = warehouse.fit_combinations(combinations.astype({"x": float, "t_x": float, "T": float}),
                                        repeat.astype(float), mean_value, min_persons)
    n_buyers = int(combinations["persons"].sum()) if len(combinations) else 0
    return warehouse.parameter_rows(fitted, as_of, n_buyers, len(repeat), ranges)


def score_partition(rows: Iterable, bg: m.BgNbdParams | None, gg: m.GammaGammaParams | None,
                    as_of: pd.Timestamp, horizon_days: int, discount: float, mean_value: float | None,
                    fitted_at: datetime) -> Iterator[tuple]:
    """customer_predictions rows for one partition of persons (each with its summary, null without orders)."""
    frame = pd.DataFrame([tuple(r) for r in rows], columns=SUMMARY_INPUTS)
    if frame.empty:
        return iter(())
    summary = warehouse.from_summary_table(frame[frame["repeat_order_days"].notna()])
    scored = warehouse.score(frame["person_id"].astype(str), summary, bg, gg, as_of, horizon_days, discount,
                             mean_value, fitted_at)
    return _rows(scored)


def predict(spark: SparkSession, schema: str) -> str:
    """Fits, writes predictive_model_parameters, scores every person of int_profiles_traited and writes
    customer_predictions (parquet tables of dbt's schema, the DuckDB models' columns and types)."""
    settings = spark.sql(f"""
        select min_persons, parameter_ranges_json, horizon_days, annual_discount_rate,
               date_format(as_of_at, 'yyyy-MM-dd HH:mm:ss.SSSSSS') as as_of_at
        from {schema}.int_prediction_settings""").first()
    as_of = pd.Timestamp(settings["as_of_at"])
    days, value = spark.sql(f"select sum(n_days), sum(total_value) from {schema}.{SUMMARY}").first()
    mean_value = float(value) / float(days) if days else None  # warehouse.mean_order_value, summed in Spark
    parameters = fit_on_driver(spark, schema, int(settings["min_persons"]), _ranges(settings["parameter_ranges_json"]),
                               as_of, mean_value)
    spark.createDataFrame(list(_rows(parameters)), PARAMETER_SCHEMA).write.mode("overwrite").format(
        "parquet").saveAsTable(f"{schema}.predictive_model_parameters")

    bg, gg = warehouse.params_from_rows(parameters)
    persons = spark.sql(f"""
        select profiles.person_id, {", ".join(f"summary.{c}" for c in SUMMARY_INPUTS[1:])}
        from (select distinct person_id from {schema}.int_profiles_traited) as profiles
        left join {schema}.{SUMMARY} as summary on summary.person_id = profiles.person_id""")
    fitted_at = datetime.now(UTC).replace(tzinfo=None)
    scorer = partial(score_partition, bg=bg, gg=gg, as_of=as_of, horizon_days=int(settings["horizon_days"]),
                     discount=float(settings["annual_discount_rate"]), mean_value=mean_value, fitted_at=fitted_at)
    scored = spark.createDataFrame(persons.rdd.mapPartitions(scorer), PREDICTION_SCHEMA)
    scored.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.customer_predictions")
    statuses = dict(zip(parameters["model"], parameters["fit_status"]))
    n = spark.sql(f"select count(*) from {schema}.customer_predictions").first()[0]
    return (f"BG/NBD {statuses['bg_nbd']} on {int(parameters['fitted_on_persons'].iloc[0])} buyers, Gamma-Gamma "
            f"{statuses['gamma_gamma']} on {int(parameters['fitted_on_persons'].iloc[-1])} repeat buyers; "
            f"{n} persons scored")


def main() -> int:
    started = time.perf_counter()
    project_dir = Path.cwd()
    schema, parameters = spark_profile(project_dir, os.environ)
    spark = spark_session(parameters)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        summary = predict(spark, schema)
    finally:
        spark.stop()
    print(f"predictions on Spark: {summary} ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
