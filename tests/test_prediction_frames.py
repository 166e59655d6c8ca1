"""The prediction models read `dbt.ref()` through predict/dbt_frames.py on every adapter with Python models: a
real DuckDB relation here; Snowpark and BigQuery DataFrames cannot run here, so stand-ins with their documented
methods (select/to_pandas, [columns]/to_pandas) and Snowflake's upper-case column names take their place."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from predict.dbt_frames import for_warehouse, read_columns

pytestmark = pytest.mark.fast


def test_a_duckdb_relation_is_read_by_column():
    con = duckdb.connect()
    rel = con.sql("select 'p1' as person_id, timestamp '2025-01-01' as as_of_at, 3 as other")
    assert list(read_columns(rel, ["person_id", "as_of_at"]).columns) == ["person_id", "as_of_at"]
    assert list(read_columns(rel).columns) == ["person_id", "as_of_at", "other"]


class SnowparkLike:
    """What a Snowpark DataFrame offers the models: select and to_pandas, with upper-case column names."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def select(self, *names: str) -> SnowparkLike:
        return SnowparkLike(self.frame[[n.upper() for n in names]])

    def to_pandas(self) -> pd.DataFrame:
        return self.frame.copy()


class BigFramesLike:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def __getitem__(self, names: list[str]) -> BigFramesLike:
        return BigFramesLike(self.frame[names])

    def to_pandas(self) -> pd.DataFrame:
        return self.frame.copy()


def test_snowpark_and_bigquery_frames_come_back_with_lower_case_columns():
    upper = pd.DataFrame({"PERSON_ID": ["p1"], "AS_OF_AT": [pd.Timestamp("2025-01-01")], "OTHER": [1]})
    assert list(read_columns(SnowparkLike(upper), ["person_id", "as_of_at"]).columns) == ["person_id", "as_of_at"]
    lower = pd.DataFrame({"person_id": ["p1"], "x": [2.0]})
    assert read_columns(BigFramesLike(lower), ["x"]).to_dict("list") == {"x": [2.0]}
    with pytest.raises(TypeError, match="cannot read"):
        read_columns(object(), ["x"])


def test_snowflake_gets_upper_case_column_names_and_others_the_frame_as_it_is():
    snowpark_session = type("Session", (), {"__module__": "snowflake.snowpark.session"})()
    frame = pd.DataFrame({"person_id": ["p1"], "churn_risk": [0.5]})
    assert list(for_warehouse(frame, snowpark_session).columns) == ["PERSON_ID", "CHURN_RISK"]
    assert for_warehouse(frame, duckdb.connect()) is frame
