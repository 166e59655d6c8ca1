{#- What the marketing webhook may receive: people with an email who have not unsubscribed. Nothing about
    a person who opted out goes to a marketing destination (the sync engine checks again). -#}
with profiles as (
    select * from {{ ref('customer_profiles') }}
),

{#- an email that is the golden email of several people (a shared mailbox) cannot key one CRM contact:
    those people are left out here and are visible in identity_merge_rule_drops -#}
shared_emails as (
    select email
    from profiles
    where email is not null
    group by email
    having count(*) > 1
),

final as (
    select
        cast(person_id as {{ cdp_type_string() }}) as person_id,
        cast(email as {{ cdp_type_string() }}) as email,
        cast(first_name as {{ cdp_type_string() }}) as first_name,
        cast(country as {{ cdp_type_string() }}) as country,
        cast(email_consent as {{ cdp_type_string() }}) as email_consent,
        cast(segments as {{ cdp_type_string() }}) as segments
    from profiles
    where email is not null
        and email not in (select shared_emails.email from shared_emails)
        and email_consent <> 'unsubscribed'
)

select * from final
