"""What a dbt Python model's `dbt.ref()` returns differs by adapter: a DuckDB relation, a PySpark DataFrame
(Databricks; BigQuery on Dataproc), a Snowpark DataFrame (Snowflake) or a BigQuery DataFrames one. The
prediction models read a few columns of a model into pandas through `read_columns`, and return pandas, which
every adapter with Python models writes back (`for_warehouse` gives Snowflake the upper-case column names its
unquoted SQL resolves to). DuckDB and the Spark driver step (predict/spark.py) are what the tests run; the
other adapters follow their documented DataFrame APIs."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def read_columns(relation: object, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The named columns of a model (every column when None) as a pandas frame with lower-case column names."""
    names = list(columns) if columns is not None else None
    if hasattr(relation, "project") and hasattr(relation, "df"):  # DuckDB relation
        return (relation.project(", ".join(names)) if names else relation).df()
    if hasattr(relation, "toPandas"):  # PySpark DataFrame
        frame = (relation.select(*names) if names else relation).toPandas()
    elif hasattr(relation, "select") and hasattr(relation, "to_pandas"):  # Snowpark DataFrame
        frame = (relation.select(*names) if names else relation).to_pandas()
    elif hasattr(relation, "to_pandas"):  # BigQuery DataFrames
        frame = (relation[names] if names else relation).to_pandas()
    else:
        raise TypeError(f"dbt.ref() returned a {type(relation).__name__}, which the prediction models cannot read")
    frame.columns = [str(c).lower() for c in frame.columns]
    return frame


def for_warehouse(frame: pd.DataFrame, session: object) -> pd.DataFrame:
    """The frame a model returns: upper-case column names on Snowflake (Snowpark session), where the models
    downstream name them unquoted; as it is elsewhere."""
    if type(session).__module__.startswith("snowflake."):
        return frame.rename(columns=str.upper)
    return frame
