{#- One row per person and segment. Segments are declared in var segments (name, description, condition)
    over profile traits and prediction columns (churn_risk, predicted_clv, ...). Rebuilt in full on each run: the
    conditions read traits that move with the as-of instant and predictions fitted over every buyer. Names and
    conditions are checked before they are rendered (macros/profiles/segment_rules.sql). -#}
{%- set prediction_columns = ['p_alive', 'churn_risk', 'expected_orders', 'expected_order_value', 'predicted_clv',
                              'prediction_basis'] -%}
{%- if execute -%}
    {%- set trait_columns = adapter.get_columns_in_relation(ref('int_profiles_traited')) | map(attribute='name') | list -%}
    {%- do cdp_check_segments(trait_columns + prediction_columns if trait_columns else []) -%}
{%- endif %}
with traits as (
    select * from {{ ref('int_profiles_traited') }}
),

predictions as (
    select * from {{ ref('customer_predictions') }}
),

profiles as (
    select
        traits.*,
        predictions.p_alive,
        predictions.churn_risk,
        predictions.expected_orders,
        predictions.expected_order_value,
        predictions.predicted_clv,
        predictions.prediction_basis
    from traits
    left join predictions
        on predictions.person_id = traits.person_id
),

memberships as (
    {%- for segment in var('segments') %}
    select
        person_id,
        '{{ segment.name }}' as segment_name
    from profiles
    where {{ segment.condition }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        person_id,
        segment_name,
        {{ cdp_md5("person_id || '|' || segment_name") }} as segment_membership_id
    from memberships
)

select * from final
