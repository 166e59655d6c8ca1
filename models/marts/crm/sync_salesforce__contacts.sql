{#- What the salesforce_contacts sync may send: one row per person with a last name (Salesforce requires LastName). The contract makes the
    column list the field allowlist: nothing else leaves the warehouse. -#}
with profiles as (
    select * from {{ ref('customer_profiles') }}
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
    where last_name is not null
)

select * from final
