{{ config(materialized='cdp_written_by_driver') }}
{#- On Spark the scoring runs on the executors between two dbt runs of `cdp build` (predict/spark.py, the
    same predict/ code as the DuckDB Python model), since dbt-spark's session method runs no Python models.
    This node keeps the model in dbt's graph for refs, lineage and its data tests; its build checks the
    written table has these columns (macros/predictions/written_by_driver.sql). -#}
select
    person_id,
    p_alive,
    churn_risk,
    expected_orders,
    horizon_days,
    expected_order_value,
    predicted_clv,
    predicted_next_order_at,
    model_fitted_at,
    prediction_basis
from {{ this }}
