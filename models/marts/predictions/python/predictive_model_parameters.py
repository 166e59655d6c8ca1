"""BG/NBD and Gamma-Gamma fitted by maximum likelihood (package predict/, numpy/scipy) on every buyer's
summary (int_person_order_summary: paid and shipped order days up to the as-of instant). A dbt Python model,
so the fit runs inside `dbt build` (and the Dagster asset graph) between the profiles and the CRM models.
Enabled on DuckDB; Spark fits the same way on its driver (predict/spark.py); other targets build the SQL
placeholder in ../fallback/ with a warning."""

import ast

from predict import warehouse


def model(dbt, session):
    dbt.config(materialized="table")
    min_persons = int(dbt.config.get("prediction_min_persons"))
    ranges = dbt.config.get("prediction_parameter_ranges")  # rendered from the var, so it may arrive as text
    ranges = ast.literal_eval(ranges) if isinstance(ranges, str) else ranges
    as_of = dbt.ref("int_profiles_traited").aggregate("max(as_of_at) as as_of_at").df()["as_of_at"].iloc[0]
    summary = warehouse.from_summary_table(dbt.ref("int_person_order_summary").df())
    fitted = warehouse.fit(summary, min_persons)
    n_gg = int(((summary["x"] > 0) & (summary["m_x"] > 0)).sum())
    return warehouse.parameter_rows(fitted, as_of, len(summary), n_gg, ranges)
