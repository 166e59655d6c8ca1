{#- What the marketing webhook may receive: people with an email who have not unsubscribed. Nothing about
    a person who opted out goes to a marketing destination (the sync engine checks again). -#}
with profiles as (
    select * from {{ ref('int_profiles_for_crm') }}
),

final as (
    select
        person_id,
        email,
        first_name,
        country,
        email_consent,
        segments
    from profiles
    where email is not null
        and not has_shared_email
        and email_consent <> 'unsubscribed'
)

select * from final
