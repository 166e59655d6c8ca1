{#- What the salesforce_contacts sync may send: one row per person with a last name (Salesforce requires LastName). The contract makes the
    column list the field allowlist: nothing else leaves the warehouse. -#}
with profiles as (
    select * from {{ ref('int_profiles_for_crm') }}
),

final as (
    select
        person_id,
        email,
        first_name,
        last_name,
        phone,
        city,
        country,
        company,
        job_title,
        lifetime_value,
        order_count,
        email_consent,
        segments,
        churn_risk,
        predicted_clv,
        last_order_date,
        journey_stage,
        next_best_action
    from profiles
    where last_name is not null
)

select * from final
