"""The same dbt project on Spark (dbt-spark, session method, local mode) and on DuckDB gives the same
people and the same profile values. Spark's tables are parquet files in its warehouse folder; DuckDB
reads them, so both sides are compared with one SQL dialect."""

from __future__ import annotations

import duckdb
import pytest

from datagen.sample_data import generate
from tests.compare import clusters, columns, comparable, differences, person_keys_view
from tests.conftest import dbt

pytestmark = pytest.mark.spark

# Tables compared, with the column that names a person.
PROFILE_TABLES = {"customer_profiles": "person_id", "sync_hubspot__contacts": "person_id",
                  "sync_salesforce__contacts": "person_id"}
# Spark cannot run the dbt Python models of the predictions: their columns are null there (and segments built
# on them empty), so they are compared apart (test_spark_builds_prediction_placeholders).
# journey_stage and next_best_action rules read churn_risk and predicted_clv, which Spark leaves null
PREDICTION_COLUMNS = ("p_alive", "churn_risk", "expected_orders", "expected_order_value", "predicted_clv",
                      "predicted_next_order_at", "prediction_basis", "segments", "segment_count",
                      "journey_stage", "next_best_action", "next_best_action_reason")
PREDICTION_SEGMENTS = ("high_value_at_risk",)


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("spark")
    generate(400, 7, root / "raw")
    dbt(root / "raw", root / "duck.duckdb", "build")
    spark_dir = root / "spark"
    dbt(root / "raw", root / "unused.duckdb", "build", target="spark", spark_dir=spark_dir)
    # a second run of the identity passes takes the incremental path (nothing changed: every row copied)
    log = dbt(root / "raw", root / "unused.duckdb", "run", "--select", "int_records_clustered_strong",
              "int_records_clustered", target="spark", spark_dir=spark_dir).stdout
    assert "int_records_clustered relabelled the changed components" in log

    con = duckdb.connect()
    con.execute(f"attach '{root / 'duck.duckdb'}' as duck (read_only)")
    warehouse = spark_dir / "warehouse" / "cdp.db"
    for table in ["person_records", "int_records_clustered", "quarantine", "source_row_counts", *PROFILE_TABLES,
                  "customer_predictions", "predictive_model_parameters"]:
        assert sorted((warehouse / table).glob("*.parquet")), f"Spark wrote no parquet for {table} in {warehouse}"
        con.execute(f"create view spark_{table} as select * from read_parquet('{warehouse / table}/*.parquet')")
        con.execute(f"create view duck_{table} as select * from duck.main.{table}")
    for engine in ("duck", "spark"):
        person_keys_view(con, engine)
    return con


def test_spark_clusters_the_same_records_into_the_same_people(engines):
    con = engines
    duck, spark = clusters("duck"), clusters("spark")
    n_records = con.execute(f"select count(*) from ({duck})").fetchone()[0]
    n_people = con.execute("select count(*) from duck_person_keys").fetchone()[0]
    assert n_records > 1_000 and 300 < n_people < n_records
    assert con.execute(f"select count(*) from ({spark})").fetchone()[0] == n_records
    assert differences(con, duck, spark) == []
    # components are named by their smallest node on both engines, after Spark's incremental rerun too
    duck, spark = (f"select node, component_id from {e}_int_records_clustered" for e in ("duck", "spark"))
    assert differences(con, duck, spark) == []


@pytest.mark.parametrize("table", sorted(PROFILE_TABLES))
def test_spark_profile_values_equal_duckdb(engines, table):
    con = engines
    assert columns(con, f"duck_{table}") == columns(con, f"spark_{table}")
    duck, spark = (comparable(con, f"{e}_{table}", person_column=PROFILE_TABLES[table], prefix=e,
                              exclude=PREDICTION_COLUMNS) for e in ("duck", "spark"))
    assert con.execute(f"select count(*) from ({duck})").fetchone()[0] > 100
    assert differences(con, duck, spark) == []


def test_spark_quarantines_and_counts_the_same_rows(engines):
    con = engines
    for table in ("quarantine", "source_row_counts"):
        assert differences(con, comparable(con, f"duck_{table}"), comparable(con, f"spark_{table}")) == [], table
    assert con.execute("select count(*) from spark_quarantine").fetchone()[0] > 0


def test_spark_builds_prediction_placeholders(engines):
    """Spark builds the predictions as null placeholders that say so; segments not built on predictions agree."""
    con = engines
    assert columns(con, "duck_customer_predictions") == columns(con, "spark_customer_predictions")
    assert con.execute("select distinct prediction_basis from spark_customer_predictions").fetchall() == [
        ("not_available_on_target",)]
    assert con.execute("select count(*) from spark_customer_predictions where churn_risk is not null").fetchone()[0] == 0
    assert con.execute("select distinct fit_status from spark_predictive_model_parameters").fetchall() == [
        ("not_available_on_target",)]
    assert con.execute("select count(*) from duck_customer_predictions where churn_risk is null").fetchone()[0] == 0
    keep = "x <> '' and x not in (" + ", ".join(f"'{s}'" for s in PREDICTION_SEGMENTS) + ")"
    duck, spark = (f"select k.person_key, list_filter(string_split(t.segments, ';'), x -> {keep}) as segs "
                   f"from {e}_customer_profiles t join {e}_person_keys k using (person_id)" for e in ("duck", "spark"))
    assert differences(con, duck, spark) == []
