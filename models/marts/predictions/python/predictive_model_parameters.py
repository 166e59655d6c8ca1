"""BG/NBD and Gamma-Gamma fitted by maximum likelihood (package predict/, numpy/scipy) on every buyer's
summary (int_person_order_summary: paid and shipped order days up to the as-of instant). A dbt Python model,
so the fit runs inside `dbt build` (and the Dagster asset graph) between the profiles and the CRM models, on
DuckDB and on every adapter that runs Python models (predict/dbt_frames.py reads their DataFrames); Spark
fits the same way on its driver (predict/spark.py)."""

import ast

from predict import warehouse
from predict.dbt_frames import for_warehouse, read_columns


def model(dbt, session):
    dbt.config(materialized="table", packages=["numpy", "pandas", "scipy"])
    min_persons = int(dbt.config.get("prediction_min_persons"))
    ranges = dbt.config.get("prediction_parameter_ranges")  # rendered from the var, so it may arrive as text
    ranges = ast.literal_eval(ranges) if isinstance(ranges, str) else ranges
    persons = read_columns(dbt.ref("int_profiles_traited"), ["as_of_at"])  # dbt misses a ref in a subscripted call
    as_of = persons["as_of_at"].max()
    summary = warehouse.from_summary_table(read_columns(dbt.ref("int_person_order_summary")))
    fitted = warehouse.fit(summary, min_persons)
    n_gg = int(((summary["x"] > 0) & (summary["m_x"] > 0)).sum())
    return for_warehouse(warehouse.parameter_rows(fitted, as_of, len(summary), n_gg, ranges), session)
