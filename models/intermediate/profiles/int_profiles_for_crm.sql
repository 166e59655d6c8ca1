{#- Profile columns as CRM sync models send them (typed for their contracts), and whether the email is
    the golden email of several people (a shared mailbox cannot key one CRM contact). A table, computed once per
    run: the four CRM models and the events model read it (as a view, each of them evaluated it again). Rebuilt
    in full, like customer_profiles that it reads: churn risk, segments and journey stage move with the as-of
    instant for everybody, and a suppression removes a person here. Nothing here counts time up to the as-of
    instant ("days since"): such a column would change for everybody daily and rewrite every CRM contact;
    dates and predictions go out instead, and syncs.yml tolerances absorb the predictions' refit drift. -#}
with profiles as (
    select * from {{ ref('customer_profiles') }}
),

shared_emails as (
    select email
    from profiles
    where email is not null
    group by email
    having count(*) > 1
),

final as (
    select
        cast(profiles.person_id as {{ cdp_type_string() }}) as person_id,
        cast(profiles.email as {{ cdp_type_string() }}) as email,
        cast(profiles.first_name as {{ cdp_type_string() }}) as first_name,
        cast(profiles.last_name as {{ cdp_type_string() }}) as last_name,
        cast(profiles.phone as {{ cdp_type_string() }}) as phone,
        cast(profiles.city as {{ cdp_type_string() }}) as city,
        cast(profiles.country as {{ cdp_type_string() }}) as country,
        cast(profiles.company as {{ cdp_type_string() }}) as company,
        cast(profiles.job_title as {{ cdp_type_string() }}) as job_title,
        cast(profiles.lifetime_value as {{ cdp_type_amount() }}) as lifetime_value,
        cast(profiles.order_count as bigint) as order_count,
        cast(profiles.email_consent as {{ cdp_type_string() }}) as email_consent,
        cast(profiles.segments as {{ cdp_type_string() }}) as segments,
        cast(round(profiles.churn_risk, 4) as decimal(9, 4)) as churn_risk,
        cast(round(profiles.predicted_clv, 2) as {{ cdp_type_amount() }}) as predicted_clv,
        -- a date, not days since the last order: it changes when a customer orders, not every day for everybody
        cast(profiles.last_order_at as date) as last_order_date,
        cast(profiles.journey_stage as {{ cdp_type_string() }}) as journey_stage,
        cast(profiles.next_best_action as {{ cdp_type_string() }}) as next_best_action,
        shared_emails.email is not null as has_shared_email
    from profiles
    left join shared_emails
        on shared_emails.email = profiles.email
    -- a suppressed person is sent nowhere (privacy request; each sync removes them where sent)
    where profiles.person_id not in (select person_id from {{ ref('privacy_suppressed_persons') }})
)

select * from final
