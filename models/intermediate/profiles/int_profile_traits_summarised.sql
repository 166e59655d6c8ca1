{{ profile_scoped_config() }}
{#- The time-independent traits of each person, functions of the rows that reach the person only: counts, sums
    and first/last instants of their records, orders (every source that declares `orders`, int_profile_orders),
    web events and tickets, and their identifier counts. Incremental by person: a run rewrites the persons of the
    profile scope only (macros/scopes: a person whose rows changed, in any source, is in it). A trait that moves
    with the as-of instant or depends on other persons belongs in int_profiles_traited (docs/extending.md,
    "New trait"). -#}
with person_records as (
    select * from {{ ref('person_records') }}
    where {{ in_scope('person_id') }}
),

graph as (
    select * from {{ ref('identity_graph') }}
    where {{ in_scope('person_id') }}
),

orders as (
    select * from {{ ref('int_profile_orders') }}
    where {{ in_scope('person_id') }}
),

web_events as (
    select * from {{ ref('int_web_events_sessionised') }}
    where {{ in_scope('person_id') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
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
        person_id,
        sum(case when is_revenue then 1 else 0 end) as order_count,
        count(*) as orders_placed_count,
        sum(case when is_revenue then amount_reporting else 0 end) as lifetime_value,
        min(case when is_revenue then ordered_at end) as first_order_at,
        max(case when is_revenue then ordered_at end) as last_order_at
    from orders
    group by person_id
),

person_web as (
    select
        person_id,
        count(*) as web_event_count
    from web_events
    group by person_id
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

final as (
    select
        persons.person_id,
        coalesce(person_orders.order_count, 0) as order_count,
        coalesce(person_orders.orders_placed_count, 0) as orders_placed_count,
        cast(coalesce(person_orders.lifetime_value, 0) as {{ cdp_type_amount() }}) as lifetime_value,
        case when person_orders.order_count > 0
            then {{ cdp_average_amount('person_orders.lifetime_value', 'person_orders.order_count') }}
            end as average_order_value,
        person_orders.first_order_at,
        person_orders.last_order_at,
        coalesce(person_web.web_event_count, 0) as web_event_count,
        coalesce(person_tickets.ticket_count, 0) as ticket_count,
        coalesce(person_tickets.open_ticket_count, 0) as open_ticket_count,
        person_tickets.avg_satisfaction_score,
        coalesce(identifier_counts.email_count, 0) as email_count,
        coalesce(identifier_counts.phone_count, 0) as phone_count,
        coalesce(identifier_counts.shop_customer_id_count, 0) as shop_customer_id_count,
        coalesce(identifier_counts.crm_contact_id_count, 0) as crm_contact_id_count,
        coalesce(identifier_counts.anonymous_id_count, 0) as anonymous_id_count,
        persons.record_count,
        persons.sources,
        persons.first_seen_at,
        persons.last_seen_at
    from persons
    left join person_orders on person_orders.person_id = persons.person_id
    left join person_web on person_web.person_id = persons.person_id
    left join person_tickets on person_tickets.person_id = persons.person_id
    left join identifier_counts on identifier_counts.person_id = persons.person_id
)

select * from final
