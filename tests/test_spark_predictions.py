"""Predictions on Spark: `cdp build --target spark` fits BG/NBD and Gamma-Gamma on the driver and scores on the
executors (predict/spark.py) between two dbt runs, and gives the parameters and per-person predictions the
DuckDB Python models give on the same raw files; on CDNOW its fit matches the published parameters. Spark's
tables are parquet files in its warehouse folder, read here with DuckDB beside the DuckDB build."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest

from tests.compare import columns
from tests.spark_support import cdp_build_spark
from tests.test_predictions import CDNOW_PUBLISHED, write_cdnow_raw

pytestmark = pytest.mark.spark

FIGURES = ("p_alive", "churn_risk", "expected_orders", "expected_order_value", "predicted_clv")
TABLES = ("person_records", "predictive_model_parameters", "customer_predictions", "customer_profiles")
TOLERANCE = 1e-6


def spark_views(con: duckdb.DuckDBPyConnection, spark_dir: Path, tables: tuple[str, ...] = TABLES) -> None:
    warehouse = spark_dir / "warehouse" / "cdp.db"
    for table in tables:
        assert sorted((warehouse / table).glob("*.parquet")), f"Spark wrote no parquet for {table}"
        con.execute(f"create view spark_{table} as select * from read_parquet('{warehouse / table}/*.parquet')")


def close(left: float | None, right: float | None, tolerance: float = TOLERANCE) -> bool:
    if left is None or right is None:
        return left is None and right is None
    return math.isclose(left, right, rel_tol=tolerance, abs_tol=tolerance)


@pytest.fixture
def built(spark_engines) -> tuple[duckdb.DuckDBPyConnection, str]:
    """The DuckDB and Spark builds of tests/test_spark.py (a session fixture: one Spark build for both)."""
    return spark_engines["con"], spark_engines["output"]


def test_spark_build_fits_and_scores_without_placeholders(built):
    con, output = built
    assert "predictions on Spark: BG/NBD converged on" in output
    # the placeholders' warnings (models/marts/predictions/fallback/); the status itself is named by a test
    assert "null placeholders" not in output and "every prediction is null" not in output
    assert con.execute("select distinct fit_status from spark_predictive_model_parameters").fetchall() == [
        ("converged",)]
    assert con.execute("select count(*) from spark_customer_predictions where churn_risk is null").fetchone()[0] == 0


def test_spark_fits_the_same_parameters_as_duckdb(built):
    con, _ = built
    assert columns(con, "duck_predictive_model_parameters") == columns(con, "spark_predictive_model_parameters")
    query = ("select model, parameter, value, std_error, time_unit, fitted_on_persons, as_of, fit_status "
             "from {}_predictive_model_parameters order by model, parameter")
    duck, spark = (con.execute(query.format(e)).fetchall() for e in ("duck", "spark"))
    assert len(duck) == 7 and [r[:2] for r in duck] == [r[:2] for r in spark]
    for d, s in zip(duck, spark):
        assert d[2] is not None and math.isclose(d[2], s[2], rel_tol=TOLERANCE), (d, s)
        assert math.isclose(d[3], s[3], rel_tol=1e-4), (d, s)  # standard errors: finite differences of the gradient
        assert d[4:] == s[4:], (d, s)


def test_spark_predicts_the_same_per_person_as_duckdb(built):
    con, _ = built
    assert columns(con, "duck_customer_predictions") == columns(con, "spark_customer_predictions")
    types = "select column_name, column_type from (describe {}_customer_predictions)"
    assert con.execute(types.format("duck")).fetchall() == con.execute(types.format("spark")).fetchall()
    query = ("select k.person_key, {}, p.horizon_days, p.prediction_basis, epoch(p.predicted_next_order_at) "
             "from {}_customer_predictions p join {}_person_keys k using (person_id) order by k.person_key")
    duck, spark = (con.execute(query.format(", ".join(f"p.{f}" for f in FIGURES), e, e)).fetchall()
                   for e in ("duck", "spark"))
    assert len(duck) > 300 and [r[0] for r in duck] == [r[0] for r in spark]
    assert {r[-2] for r in duck} == {"order_history", "prior_no_orders"}
    mismatched = [(d, s) for d, s in zip(duck, spark)
                  if d[-3:-1] != s[-3:-1] or not all(close(a, b) for a, b in zip(d[1:-3], s[1:-3]))
                  or not close(d[-1], s[-1], 1e-9)]
    assert mismatched == []


def test_spark_profiles_carry_the_predictions_and_the_segments_built_on_them(built):
    con, _ = built
    query = ("select k.person_key, t.churn_risk, t.predicted_clv, t.segments, t.journey_stage "
             "from {}_customer_profiles t join {}_person_keys k using (person_id) order by k.person_key")
    duck, spark = (con.execute(query.format(e, e)).fetchall() for e in ("duck", "spark"))
    assert len(duck) == len(spark) > 300
    assert [(r[0], r[3], r[4]) for r in duck] == [(r[0], r[3], r[4]) for r in spark]
    assert all(close(d[1], s[1]) and close(d[2], s[2]) for d, s in zip(duck, spark))
    assert con.execute("select count(*) from spark_customer_profiles where churn_risk is null").fetchone()[0] == 0


def test_cdnow_fit_on_spark_matches_the_published_parameters(tmp_path):
    assert write_cdnow_raw(tmp_path / "raw") == 2357
    cdp_build_spark(tmp_path / "raw", tmp_path, CDP_AS_OF="1997-09-30")
    con = duckdb.connect()
    spark_views(con, tmp_path / "spark", ("predictive_model_parameters", "customer_predictions"))
    rows = con.execute("select model, parameter, value, fitted_on_persons, fit_status "
                       "from spark_predictive_model_parameters").fetchall()
    got = {(r[0], r[1]): r for r in rows}
    assert set(got) == set(CDNOW_PUBLISHED)
    for key, published in CDNOW_PUBLISHED.items():
        assert abs(got[key][2] - published) <= 0.02 * published, (key, got[key][2], published)
        assert got[key][4] == "converged"
    assert got[("bg_nbd", "r")][3] == 2357 and got[("gamma_gamma", "p")][3] == 946
    assert con.execute("select count(*), min(prediction_basis) from spark_customer_predictions").fetchone() == (
        2357, "order_history")
