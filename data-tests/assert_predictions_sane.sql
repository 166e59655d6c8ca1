-- Blocking check on the prediction models (a failing test stops what depends on them, the CRM models
-- among them): every fit converged, converged parameters finite and inside var prediction_parameter_ranges,
-- probabilities within 0-1, expected orders and values not negative. A BG/NBD at its no-dropout boundary
-- (fit_status boundary_no_dropout: a = 0, b null for infinity) is a result; its r and alpha are held to
-- the ranges.
-- In Dagster it is an asset check of predictive_model_parameters.
{{ config(meta={'dagster': {'ref': {'name': 'predictive_model_parameters'}}}) }}
{%- set ranges = var('prediction_parameter_ranges') %}
with parameters as (
    select * from {{ ref('predictive_model_parameters') }}
),

predictions as (
    select * from {{ ref('customer_predictions') }}
),

bad_parameters as (
    select model || '.' || parameter || ': ' || fit_status as problem
    from parameters
    where fit_status = 'not_converged'
        or (fit_status = 'boundary_no_dropout' and parameter in ('r', 'alpha') and (value is null or not (
            {%- for name in ['r', 'alpha'] %}
            (parameter = '{{ name }}' and value > {{ ranges.bg_nbd[name][0] }} and value < {{ ranges.bg_nbd[name][1] }})
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        )))
        or (fit_status = 'converged' and (value is null or not (
            {%- for model_name, params in ranges.items() %}
            {%- for name, bounds in params.items() %}
            (model = '{{ model_name }}' and parameter = '{{ name }}' and value > {{ bounds[0] }} and value < {{ bounds[1] }})
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
            {%- if not loop.last %} or{% endif %}
            {%- endfor %}
        )))
),

bad_predictions as (
    select 'person ' || person_id || ': prediction out of range' as problem
    from predictions
    where not (p_alive >= 0 and p_alive <= 1)
        or not (churn_risk >= 0 and churn_risk <= 1)
        or expected_orders < 0
        or expected_order_value < 0
        or predicted_clv < 0
),

final as (
    select problem from bad_parameters
    union all
    select problem from bad_predictions
)

select * from final
