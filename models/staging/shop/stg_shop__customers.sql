with customers as (
    select * from {{ ref('base_shop__customers') }}
),

final as (
    select
        shop_customer_id,
        email,
        phone,
        first_name,
        last_name,
        city,
        country,
        accepts_marketing,
        created_at,
        coalesce(updated_at, created_at) as updated_at
    from customers
    where _row_fate = 'staged'
)

select * from final
