{#- What the hubspot_contacts sync may send: one row per person with an email. The contract makes the
    column list the field allowlist: nothing else leaves the warehouse. -#}
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
        cast(last_name as {{ cdp_type_string() }}) as last_name,
        cast(phone as {{ cdp_type_string() }}) as phone,
        cast(city as {{ cdp_type_string() }}) as city,
        cast(country as {{ cdp_type_string() }}) as country,
        cast(company as {{ cdp_type_string() }}) as company,
        cast(job_title as {{ cdp_type_string() }}) as job_title,
        cast(lifetime_value as {{ cdp_type_amount() }}) as lifetime_value,
        cast(order_count as bigint) as order_count,
        cast(email_consent as {{ cdp_type_string() }}) as email_consent,
        cast(segments as {{ cdp_type_string() }}) as segments
    from profiles
    where email is not null
        and email not in (select shared_emails.email from shared_emails)
)

select * from final
