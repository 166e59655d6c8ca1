{#- Targets where the fit is not wired up (Snowflake, BigQuery, Databricks: their Python models run on
    the warehouse's own Python, which lacks the project's predict/ package): the parameter rows exist, with
    null values and fit_status not_available_on_target, and the run says so, so every model downstream still
    builds. DuckDB builds ../python/predictive_model_parameters.py; Spark fits on its driver (../spark/,
    predict/spark.py). -#}
{%- if execute %}{{ log("WARNING: predictive_model_parameters: target '" ~ target.type ~ "' cannot run the Python fit (BG/NBD, Gamma-Gamma); predictions are null placeholders on this target", info=True) }}{% endif -%}
with parameters as (
    {%- for model_name, parameter, unit in [('bg_nbd', 'r', 'week'), ('bg_nbd', 'alpha', 'week'), ('bg_nbd', 'a', 'week'),
                                            ('bg_nbd', 'b', 'week'), ('gamma_gamma', 'p', none),
                                            ('gamma_gamma', 'q', none), ('gamma_gamma', 'gamma', none)] %}
    select
        '{{ model_name }}' as model,
        '{{ parameter }}' as parameter,
        {%- if unit %} '{{ unit }}'{% else %} cast(null as {{ cdp_type_string() }}){% endif %} as time_unit
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

as_of as (
    select max(as_of_at) as as_of_at from {{ ref('int_profiles_traited') }}
),

final as (
    select
        parameters.model,
        parameters.parameter,
        cast(null as double) as value,
        parameters.time_unit,
        cast(0 as bigint) as fitted_on_persons,
        as_of.as_of_at as as_of,
        cast(null as double) as std_error,
        'not_available_on_target' as fit_status
    from parameters
    cross join as_of
)

select * from final
