{#- Targets that cannot run the Python scoring (see predictive_model_parameters.sql here): one row per
    person with null figures and prediction_basis not_available_on_target, so profiles, segments and CRM
    models still build. DuckDB builds ../python/customer_predictions.py; Spark scores on its executors
    (../spark/, predict/spark.py). -#}
{%- if execute %}{{ log("WARNING: customer_predictions: target '" ~ target.type ~ "' cannot run the Python models; every prediction is null (prediction_basis = not_available_on_target)", info=True) }}{% endif -%}
with profiles as (
    select * from {{ ref('int_profiles_traited') }}
),

parameters as (
    select * from {{ ref('predictive_model_parameters') }}
),

final as (
    select
        profiles.person_id,
        cast(null as double) as p_alive,
        cast(null as double) as churn_risk,
        cast(null as double) as expected_orders,
        cast({{ var('prediction_horizon_days') }} as bigint) as horizon_days,
        cast(null as double) as expected_order_value,
        cast(null as double) as predicted_clv,
        cast(null as {{ cdp_type_timestamp() }}) as predicted_next_order_at,
        cast(null as {{ cdp_type_timestamp() }}) as model_fitted_at,
        'not_available_on_target' as prediction_basis
    from profiles
    where exists (select 1 from parameters)
)

select * from final
