{#- What the hubspot_contacts sync may send: one row per person with an email. The contract makes the
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
        cast(case when email_consent = 'unsubscribed' then 'true' else 'false' end as {{ cdp_type_string() }})
            as marketing_opt_out,
        journey_stage,
        next_best_action
    from profiles
    where email is not null
        and not has_shared_email
)

select * from final
