{{ scoped_incremental_config('person_id', 'int_profile_persons_changed') }}
{#- The transactions the prediction models count: one row per person and order day with paid or shipped
    orders (reporting currency), since BG/NBD and Gamma-Gamma count distinct order days, as the papers do.
    Rows are staged as of CDP_AS_OF, so nothing later than the as-of instant is here. A function of the person's
    own orders: incremental by person (the persons in int_profile_persons_changed are rewritten). -#}
with orders as (
    select * from {{ ref('stg_shop__orders') }}
),

person_records as (
    select * from {{ ref('person_records') }}
    where source_name = 'shop_orders'
        and {{ in_scope('person_id') }}
),

revenue_orders as (
    select
        person_records.person_id,
        cast(orders.ordered_at as date) as order_day,
        orders.total_amount_reporting
    from orders
    inner join person_records
        on person_records.source_name = 'shop_orders'
        and person_records.source_record_id = orders.shop_order_id
    where orders.is_revenue
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
