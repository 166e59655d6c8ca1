{{ config(materialized='cdp_written_by_driver') }}
{#- On Spark the BG/NBD and Gamma-Gamma fit runs on the driver between two dbt runs of `cdp build`
    (predict/spark.py, the same predict/ code as the DuckDB Python model), since dbt-spark's session method
    runs no Python models. This node keeps the model in dbt's graph for refs, lineage and its data tests; its
    build checks the written table has these columns (macros/predictions/written_by_driver.sql). -#}
select
    model,
    parameter,
    value,
    time_unit,
    fitted_on_persons,
    as_of,
    std_error,
    fit_status
from {{ this }}
