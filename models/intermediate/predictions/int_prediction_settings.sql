{{ config(enabled=target.type == 'spark') }}
{#- dbt-spark's session method runs no Python models, so on Spark the fit and the scoring run on the driver
    between two dbt runs (predict/spark.py). That step reads the build's prediction vars (and the as-of
    instant) from this one-row table, so a --vars override reaches it exactly as it reaches the DuckDB Python
    models through their config. -#}
with as_of as (
    select max(as_of_at) as as_of_at from {{ ref('int_profiles_traited') }}
),

final as (
    select
        cast({{ var('prediction_min_persons') }} as bigint) as min_persons,
        '{{ tojson(var('prediction_parameter_ranges')) }}' as parameter_ranges_json,
        cast({{ var('prediction_horizon_days') }} as bigint) as horizon_days,
        cast({{ var('prediction_annual_discount_rate') }} as double) as annual_discount_rate,
        as_of.as_of_at
    from as_of
)

select * from final
