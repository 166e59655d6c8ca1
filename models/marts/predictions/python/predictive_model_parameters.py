"""BG/NBD and Gamma-Gamma fitted by maximum likelihood (package predict/, numpy/scipy) on every person's
paid and shipped order days up to the as-of instant. A dbt Python model, so the fit runs inside
`dbt build` (and the Dagster asset graph) between the profiles and the CRM models. Enabled on DuckDB; other
targets build the SQL placeholder in ../fallback/ with a warning."""

import ast

from predict import warehouse


def model(dbt, session):
    dbt.config(materialized="table")
    min_persons = int(dbt.config.get("prediction_min_persons"))
    ranges = dbt.config.get("prediction_parameter_ranges")  # rendered from the var, so it may arrive as text
    ranges = ast.literal_eval(ranges) if isinstance(ranges, str) else ranges
    as_of = dbt.ref("int_profiles_traited").aggregate("max(as_of_at) as as_of_at").df()["as_of_at"].iloc[0]
    order_days = dbt.ref("int_person_order_days").df()
    summary = warehouse.summarise(order_days, as_of)
    fitted = warehouse.fit(summary, min_persons)
    n_gg = int(((summary["x"] > 0) & (summary["m_x"] > 0)).sum())
    return warehouse.parameter_rows(fitted, as_of, len(summary), n_gg, ranges)
