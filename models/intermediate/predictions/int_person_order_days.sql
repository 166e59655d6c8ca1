{{ profile_scoped_config() }}
{#- The transactions the prediction models count: one row per person and order day with revenue orders of
    every order source (int_profile_orders, reporting currency), since BG/NBD and Gamma-Gamma count distinct order days, as the papers do.
    Rows are staged as of CDP_AS_OF, so nothing later than the as-of instant is here. A function of the person's
    own orders: incremental by person (the persons in int_profile_scope_persons are rewritten). -#}
with orders as (
    select * from {{ ref('int_profile_orders') }}
    where {{ in_scope('person_id') }}
),

revenue_orders as (
    select
        person_id,
        cast(ordered_at as date) as order_day,
        amount_reporting as total_amount_reporting
    from orders
    where is_revenue
),

final as (
    select
        person_id,
        order_day,
        count(*) as order_count,
        cast(sum(total_amount_reporting) as double) as order_value
    from revenue_orders
    group by person_id, order_day
)

select * from final
