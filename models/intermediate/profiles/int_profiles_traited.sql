{#- One row per person: golden attributes plus behavioural traits. "Now" is CDP_AS_OF (cdp_as_of_cut), or when unset the
    latest order, event or ticket in the data, so results do not drift with the wall clock. -#}
{%- set as_of_var = cdp_as_of_cut() -%}
with person_records as (
    select * from {{ ref('person_records') }}
),

golden as (
    select * from {{ ref('int_profile_attributes_survived') }}
),

graph as (
    select * from {{ ref('identity_graph') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

events as (
    select * from {{ ref('stg_web__events') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

consents as (
    select * from {{ ref('stg_email__consents') }}
),

as_of as (
    select
        {%- if as_of_var %}
        cast('{{ as_of_var }}' as {{ cdp_type_timestamp() }}) as as_of_at
        {%- else %}
        greatest(
            coalesce((select max(ordered_at) from orders), cast('1970-01-01' as {{ cdp_type_timestamp() }})),
            coalesce((select max(occurred_at) from events), cast('1970-01-01' as {{ cdp_type_timestamp() }})),
            coalesce((select max(created_at) from tickets), cast('1970-01-01' as {{ cdp_type_timestamp() }}))
        ) as as_of_at
        {%- endif %}
),

persons as (
    select
        person_id,
        count(*) as record_count,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        {{ cdp_source_list('source_name') }} as sources
    from person_records
    group by person_id
),

person_orders as (
    select
        person_records.person_id,
        sum(case when orders.is_revenue then 1 else 0 end) as order_count,
        count(*) as orders_placed_count,
        sum(case when orders.is_revenue then orders.total_amount_reporting else 0 end) as lifetime_value,
        min(case when orders.is_revenue then orders.ordered_at end) as first_order_at,
        max(case when orders.is_revenue then orders.ordered_at end) as last_order_at
    from orders
    inner join person_records
        on person_records.source_name = 'shop_orders'
        and person_records.source_record_id = orders.shop_order_id
    group by person_records.person_id
),

person_events as (
    select
        person_records.person_id,
        events.occurred_at,
        lag(events.occurred_at) over (
            partition by person_records.person_id order by events.occurred_at, events.web_event_id
        ) as previous_occurred_at
    from events
    inner join person_records
        on person_records.source_name = 'web_events'
        and person_records.source_record_id = events.web_event_id
),

person_web as (
    select
        person_events.person_id,
        count(*) as web_event_count,
        sum(case when person_events.occurred_at >= {{ cdp_add_days('as_of.as_of_at', -30) }} then 1 else 0 end)
            as web_events_30d,
        sum(case
            when person_events.occurred_at >= {{ cdp_add_days('as_of.as_of_at', -30) }}
                and (person_events.previous_occurred_at is null
                     or {{ cdp_minutes_between('person_events.previous_occurred_at', 'person_events.occurred_at') }}
                        > {{ var('web_session_gap_minutes') }})
            then 1 else 0 end) as web_sessions_30d,
        max(person_events.occurred_at) as last_web_event_at
    from person_events
    cross join as_of
    group by person_events.person_id
),

person_tickets as (
    select
        person_records.person_id,
        count(*) as ticket_count,
        sum(case when tickets.is_open then 1 else 0 end) as open_ticket_count,
        avg(cast(tickets.satisfaction_score as double)) as avg_satisfaction_score
    from tickets
    inner join person_records
        on person_records.source_name = 'support_tickets'
        and person_records.source_record_id = tickets.support_ticket_id
    group by person_records.person_id
),

identifier_counts as (
    select
        person_id,
        sum(case when identifier_type = 'email' then 1 else 0 end) as email_count,
        sum(case when identifier_type = 'phone' then 1 else 0 end) as phone_count,
        sum(case when identifier_type = 'shop_customer_id' then 1 else 0 end) as shop_customer_id_count,
        sum(case when identifier_type = 'crm_contact_id' then 1 else 0 end) as crm_contact_id_count,
        sum(case when identifier_type = 'anonymous_id' then 1 else 0 end) as anonymous_id_count
    from graph
    group by person_id
),

{#- consent per address: the latest consent event of the golden email, the address the syncs send (an opt-in
    of another of the person's addresses says nothing about this one); at equal times unsubscribe wins -#}
person_consent_events as (
    select
        golden.person_id,
        consents.consent_status,
        row_number() over (
            partition by golden.person_id
            order by consents.updated_at desc,
                case consents.consent_status when 'unsubscribed' then 0 else 1 end,
                consents.email_consent_event_id
        ) as recency
    from consents
    inner join golden
        on golden.email = consents.email
),

person_consent as (
    select person_id, consent_status as email_consent
    from person_consent_events
    where recency = 1
),

combined as (
    select
        persons.person_id,
        {%- for attribute in var('survivorship') %}
        golden.{{ attribute }},
        {%- endfor %}
        coalesce(person_orders.order_count, 0) as order_count,
        coalesce(person_orders.orders_placed_count, 0) as orders_placed_count,
        cast(coalesce(person_orders.lifetime_value, 0) as {{ cdp_type_amount() }}) as lifetime_value,
        case when person_orders.order_count > 0
            then {{ cdp_average_amount('person_orders.lifetime_value', 'person_orders.order_count') }}
            end as average_order_value,
        '{{ var("reporting_currency") }}' as reporting_currency,
        person_orders.first_order_at,
        person_orders.last_order_at,
        {{ cdp_days_between('person_orders.last_order_at', 'as_of.as_of_at') }} as days_since_last_order,
        {{ cdp_days_between('person_orders.first_order_at', 'as_of.as_of_at') }} as days_since_first_order,
        coalesce(person_web.web_event_count, 0) as web_event_count,
        coalesce(person_web.web_events_30d, 0) as web_events_30d,
        coalesce(person_web.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(person_tickets.ticket_count, 0) as ticket_count,
        coalesce(person_tickets.open_ticket_count, 0) as open_ticket_count,
        person_tickets.avg_satisfaction_score,
        coalesce(person_consent.email_consent, 'unknown') as email_consent,
        coalesce(identifier_counts.email_count, 0) as email_count,
        coalesce(identifier_counts.phone_count, 0) as phone_count,
        coalesce(identifier_counts.shop_customer_id_count, 0) as shop_customer_id_count,
        coalesce(identifier_counts.crm_contact_id_count, 0) as crm_contact_id_count,
        coalesce(identifier_counts.anonymous_id_count, 0) as anonymous_id_count,
        persons.record_count,
        persons.sources,
        persons.first_seen_at,
        persons.last_seen_at,
        as_of.as_of_at
    from persons
    cross join as_of
    left join golden on golden.person_id = persons.person_id
    left join person_orders on person_orders.person_id = persons.person_id
    left join person_web on person_web.person_id = persons.person_id
    left join person_tickets on person_tickets.person_id = persons.person_id
    left join identifier_counts on identifier_counts.person_id = persons.person_id
    left join person_consent on person_consent.person_id = persons.person_id
),

{#- RFM quintiles among buyers (5 is best); ties broken by person_id so scores are deterministic -#}
rfm as (
    select
        person_id,
        ntile(5) over (order by last_order_at, person_id) as rfm_recency_score,
        ntile(5) over (order by order_count, lifetime_value, person_id) as rfm_frequency_score,
        ntile(5) over (order by lifetime_value, order_count, person_id) as rfm_monetary_score
    from combined
    where order_count > 0
),

final as (
    select
        combined.*,
        rfm.rfm_recency_score,
        rfm.rfm_frequency_score,
        rfm.rfm_monetary_score
    from combined
    left join rfm on rfm.person_id = combined.person_id
)

select * from final
