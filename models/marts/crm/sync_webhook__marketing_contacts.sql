{#- What the marketing webhook may receive: people whose golden email's own latest consent event is
    `subscribed` (consent per address: no event, or an opt-out, is no consent). Nothing about a person who
    opted out goes to a marketing destination (the sync engine checks again). -#}
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
        and email_consent = 'subscribed'
)

select * from final
