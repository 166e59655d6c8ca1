"""The same dbt project on Spark (dbt-spark, session method, local mode) and on DuckDB gives the same
people and the same profile values. Spark's tables are parquet files in its warehouse folder; DuckDB
reads them, so both sides are compared with one SQL dialect."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.sample_data import generate
from tests.conftest import dbt

pytestmark = pytest.mark.spark

# Tables compared, with the columns that name a person (ids are salted with the build time, so they
# differ between any two builds; people are compared by their smallest source record instead).
PROFILE_TABLES = {"customer_profiles": "person_id", "sync_hubspot__contacts": "person_id",
                  "sync_salesforce__contacts": "person_id"}


@pytest.fixture(scope="module")
def engines(tmp_path_factory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("spark")
    generate(400, 7, root / "raw")
    dbt(root / "raw", root / "duck.duckdb", "build")
    spark_dir = root / "spark"
    dbt(root / "raw", root / "unused.duckdb", "build", target="spark", spark_dir=spark_dir)

    con = duckdb.connect()
    con.execute(f"attach '{root / 'duck.duckdb'}' as duck (read_only)")
    warehouse = spark_dir / "warehouse" / "cdp.db"
    for table in ["person_records", "quarantine", "source_row_counts", *PROFILE_TABLES]:
        files = sorted((warehouse / table).glob("*.parquet"))
        assert files, f"Spark wrote no parquet files for {table} under {warehouse}"
        con.execute(f"create view spark_{table} as select * from read_parquet('{warehouse / table}/*.parquet')")
        con.execute(f"create view duck_{table} as select * from duck.main.{table}")
    for engine in ("duck", "spark"):
        con.execute(f"""
            create view {engine}_person_keys as
            select person_id, min(source_name || ':' || source_record_id) as person_key
            from {engine}_person_records group by person_id""")
    return con


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe {relation}").fetchall()]


def _as_text(column: str, type_name: str) -> str:
    # Integers may be BIGINT on one engine and HUGEINT on the other; doubles are compared to 9 places.
    if type_name in ("DOUBLE", "FLOAT"):
        return f'cast(round("{column}", 9) as varchar) as "{column}"'
    return f'cast("{column}" as varchar) as "{column}"'


def _keyed(con: duckdb.DuckDBPyConnection, engine: str, table: str, person_column: str) -> str:
    types = dict((row[0], row[1]) for row in con.execute(f"describe duck_{table}").fetchall())
    values = ", ".join(_as_text(c, t) for c, t in types.items() if c != person_column)
    return (f"select k.person_key, {values} from {engine}_{table} t "
            f"join {engine}_person_keys k on k.person_id = t.{person_column}")


def _differences(con: duckdb.DuckDBPyConnection, left: str, right: str) -> list[tuple]:
    return con.execute(f"({left} except all {right}) union all ({right} except all {left}) limit 10").fetchall()


def test_spark_clusters_the_same_records_into_the_same_people(engines):
    con = engines
    clusters = ("select t.source_name, t.source_record_id, k.person_key from {e}_person_records t "
                "join {e}_person_keys k using (person_id)")
    duck, spark = clusters.format(e="duck"), clusters.format(e="spark")
    n_records = con.execute(f"select count(*) from ({duck})").fetchone()[0]
    n_people = con.execute("select count(*) from duck_person_keys").fetchone()[0]
    assert n_records > 1_000 and 300 < n_people < n_records
    assert con.execute(f"select count(*) from ({spark})").fetchone()[0] == n_records
    assert _differences(con, duck, spark) == []


@pytest.mark.parametrize("table", sorted(PROFILE_TABLES))
def test_spark_profile_values_equal_duckdb(engines, table):
    con = engines
    assert _columns(con, f"duck_{table}") == _columns(con, f"spark_{table}")
    duck = _keyed(con, "duck", table, PROFILE_TABLES[table])
    spark = _keyed(con, "spark", table, PROFILE_TABLES[table])
    assert con.execute(f"select count(*) from ({duck})").fetchone()[0] > 100
    assert _differences(con, duck, spark) == []


def test_spark_quarantines_and_counts_the_same_rows(engines):
    con = engines
    for table in ("quarantine", "source_row_counts"):
        types = dict((row[0], row[1]) for row in con.execute(f"describe duck_{table}").fetchall())
        values = ", ".join(_as_text(c, t) for c, t in types.items())
        duck, spark = (f"select {values} from {e}_{table}" for e in ("duck", "spark"))
        assert _differences(con, duck, spark) == [], table
    assert con.execute("select count(*) from spark_quarantine").fetchone()[0] > 0

