{#- The golden profile: one row per person_id, golden attributes, traits, predictions and segments. -#}
with profiles as (
    select * from {{ ref('int_profiles_traited') }}
),

predictions as (
    select * from {{ ref('customer_predictions') }}
),

memberships as (
    select * from {{ ref('segment_memberships') }}
),

person_segments as (
    select
        person_id,
        {{ cdp_sorted_string_agg('segment_name', ';') }} as segments,
        count(*) as segment_count
    from memberships
    group by person_id
),

final as (
    select
        profiles.*,
        predictions.p_alive,
        predictions.churn_risk,
        predictions.expected_orders,
        predictions.expected_order_value,
        predictions.predicted_clv,
        -- the Python model's pandas timestamps arrive as nanosecond timestamps: the contract says timestamp
        cast(predictions.predicted_next_order_at as {{ cdp_type_timestamp() }}) as predicted_next_order_at,
        predictions.prediction_basis,
        coalesce(person_segments.segments, '') as segments,
        coalesce(person_segments.segment_count, 0) as segment_count
    from profiles
    left join predictions
        on predictions.person_id = profiles.person_id
    left join person_segments
        on person_segments.person_id = profiles.person_id
)

select * from final
