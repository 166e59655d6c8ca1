with orders as (
    select * from {{ ref('base_shop__orders') }}
),

final as (
    select
        shop_order_id,
        shop_customer_id,
        email,
        order_status,
        order_status in ('paid', 'shipped') as is_revenue,
        currency,
        total_amount,
        total_amount_reporting,
        ordered_at
    from orders
    where _row_fate = 'staged'
)

select * from final
