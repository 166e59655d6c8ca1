{{ scoped_incremental_config('person_id', 'int_profile_persons_changed') }}
{{ config(post_hook="{{ forget_vanished_scope_persons('int_profile_persons_changed') }}") }}
{#- The time-independent traits of each person, functions of the person's own records only: counts, sums and
    first/last instants of their records, orders, web events and tickets, and their identifier counts. Incremental
    by person: a run rewrites the persons in int_profile_persons_changed only. It is also that scope's state:
    record_count and record_fingerprint (the set of record keys) and staged_through (the latest `_staged_at` of
    the base tables when the row was written), which the next run's scope compares with. What moves with the
    as-of instant or depends on other persons is computed in full by int_profiles_traited.
    Built after the other models of the scope (depends_on below), so its state advances only when they all
    succeeded: if one fails, the next run's scope lists the same persons again. Its post-hook then drops the
    vanished persons from the scope table (forget_vanished_scope_persons: an erased person's id must not stay). -#}
-- depends_on: {{ ref('int_profile_attributes_survived') }}
-- depends_on: {{ ref('int_person_order_gaps') }}
with person_records as (
    select * from {{ ref('person_records') }}
    where {{ in_scope('person_id') }}
),

graph as (
    select * from {{ ref('identity_graph') }}
    where {{ in_scope('person_id') }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

web_events as (
    select * from {{ ref('int_web_events_sessionised') }}
    where {{ in_scope('person_id') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

staged_through as (
    select greatest(
        {%- for s in identifier_sources() %}
        (select max(_staged_at) from {{ ref(s.base) }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as staged_through
),

persons as (
    select
        person_id,
        count(*) as record_count,
        sum({{ cdp_fingerprint_hash('record_key') }}) as record_fingerprint,
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

person_web as (
    select
        person_id,
        count(*) as web_event_count,
        max(occurred_at) as last_web_event_at
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
        person_web.last_web_event_at,
        coalesce(person_tickets.ticket_count, 0) as ticket_count,
        coalesce(person_tickets.open_ticket_count, 0) as open_ticket_count,
        person_tickets.avg_satisfaction_score,
        coalesce(identifier_counts.email_count, 0) as email_count,
        coalesce(identifier_counts.phone_count, 0) as phone_count,
        coalesce(identifier_counts.shop_customer_id_count, 0) as shop_customer_id_count,
        coalesce(identifier_counts.crm_contact_id_count, 0) as crm_contact_id_count,
        coalesce(identifier_counts.anonymous_id_count, 0) as anonymous_id_count,
        persons.record_count,
        persons.record_fingerprint,
        persons.sources,
        persons.first_seen_at,
        persons.last_seen_at,
        staged_through.staged_through
    from persons
    cross join staged_through
    left join person_orders on person_orders.person_id = persons.person_id
    left join person_web on person_web.person_id = persons.person_id
    left join person_tickets on person_tickets.person_id = persons.person_id
    left join identifier_counts on identifier_counts.person_id = persons.person_id
)

select * from final
