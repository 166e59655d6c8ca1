{#- The columns segment conditions and journey rules read, one row per person: golden attributes and traits
    (int_profiles_traited), the predictions (customer_predictions) and the order gaps (int_person_order_gaps).
    segment_memberships and customer_profiles both read this model, so a condition that holds in one holds in
    the other. Rebuilt in full: predictions are fitted over every buyer. -#}
with traits as (
    select * from {{ ref('int_profiles_traited') }}
),

predictions as (
    select * from {{ ref('customer_predictions') }}
),

order_gaps as (
    select * from {{ ref('int_person_order_gaps') }}
),

final as (
    select
        traits.*,
        predictions.p_alive,
        predictions.churn_risk,
        predictions.expected_orders,
        predictions.expected_order_value,
        predictions.predicted_clv,
        -- the Python model's pandas timestamps arrive as nanosecond timestamps: the contract says timestamp
        cast(predictions.predicted_next_order_at as {{ cdp_type_timestamp() }}) as predicted_next_order_at,
        predictions.prediction_basis,
        order_gaps.avg_order_gap_days,
        order_gaps.previous_order_gap_days
    from traits
    left join predictions
        on predictions.person_id = traits.person_id
    left join order_gaps
        on order_gaps.person_id = traits.person_id
)

select * from final
