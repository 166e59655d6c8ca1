with events as (
    select * from {{ ref('base_web__events') }}
),

final as (
    select
        web_event_id,
        anonymous_id,
        user_id,
        email,
        event_type,
        event_name,
        page_url,
        occurred_at
    from events
    where _row_fate = 'staged'
)

select * from final
