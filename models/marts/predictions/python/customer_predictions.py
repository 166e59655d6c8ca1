"""Per person: p_alive, churn_risk (no order within horizon_days), expected_orders, expected_order_value,
predicted_clv and predicted_next_order_at, from the parameters in predictive_model_parameters and the
person's summary (int_person_order_summary, package predict/). Persons without orders get the population
prior's values (prediction_basis says which). Runs wherever dbt runs Python models (DuckDB here; Snowflake,
BigQuery and Databricks read through predict/dbt_frames.py); Spark scores with the same code on its
executors (predict/spark.py)."""

from predict import warehouse
from predict.dbt_frames import for_warehouse, read_columns


def model(dbt, session):
    dbt.config(materialized="table", packages=["numpy", "pandas", "scipy"])
    horizon_days = int(dbt.config.get("prediction_horizon_days"))
    discount = float(dbt.config.get("prediction_annual_discount_rate"))
    persons = read_columns(dbt.ref("int_profiles_traited"), ["person_id", "as_of_at"])
    as_of = persons["as_of_at"].max()
    rows = read_columns(dbt.ref("predictive_model_parameters"))
    bg, gg = warehouse.params_from_rows(rows)
    summary = warehouse.from_summary_table(read_columns(dbt.ref("int_person_order_summary")))
    return for_warehouse(warehouse.score(persons["person_id"], summary, bg, gg, as_of, horizon_days, discount,
                                         warehouse.mean_order_value(summary)), session)
