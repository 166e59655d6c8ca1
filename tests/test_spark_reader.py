"""The Spark reader's parts that need no Spark: its session settings come from profiles.yml, and its copy of
a sync's model never replaces a table it did not make (a DuckDB warehouse sharing the sync's file). The
reads themselves run in tests/test_spark.py."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.governance import suite_source
from orchestration.resources import WarehouseResource
from sync.spark_reader import (SparkReadError, SparkWarehouse, mirror_tables, session_config, spark_target,
                               sync_queries)
from sync.state import StateStore


def test_session_settings_are_the_spark_profile_rendered_with_the_environment(tmp_path):
    conf = session_config({"CDP_SPARK_DIR": str(tmp_path)})
    assert conf["spark.sql.warehouse.dir"] == f"{tmp_path}/warehouse"
    assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={tmp_path}/metastore_db;create=true")
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"


def test_an_output_that_is_not_a_spark_session_is_refused():
    with pytest.raises(SparkReadError, match="method: session"):
        session_config({}, output="duckdb")


def test_spark_and_databricks_outputs_are_spark_targets():
    assert spark_target({"CDP_TARGET": "spark"}) and spark_target({"CDP_TARGET": "databricks"})
    assert not spark_target({"CDP_TARGET": "duckdb"}) and not spark_target({"CDP_TARGET": "snowflake"})
    assert not spark_target({})


def test_the_copy_never_replaces_a_duckdb_warehouse_table(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table customer_profiles as select 'p1' as person_id, 'subscribed' as email_consent")
    store = StateStore(db)
    with pytest.raises(SparkReadError, match="customer_profiles .*CDP_DUCKDB_PATH"):
        mirror_tables(sync_queries("sync_hubspot__contacts"), store.connect)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select * from customer_profiles").fetchall() == [("p1", "subscribed")]


def test_the_governance_checks_read_spark_on_the_spark_target(tmp_path):
    def warehouse(target: str) -> WarehouseResource:
        return WarehouseResource(duckdb_path=str(tmp_path / "w.duckdb"), raw_dir=str(tmp_path / "raw"),
                                 state_dir=str(tmp_path / "state"), target=target)

    spark = suite_source(warehouse("spark"))
    assert isinstance(spark, SparkWarehouse) and spark.env["CDP_SPARK_DIR"] == str(tmp_path / "state" / "spark")
    assert suite_source(warehouse("duckdb")) == tmp_path / "w.duckdb"
