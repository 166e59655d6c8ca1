with tickets as (
    select * from {{ ref('base_support__tickets') }}
),

final as (
    select
        support_ticket_id,
        requester_email,
        requester_phone,
        requester_name,
        subject,
        channel,
        ticket_status,
        ticket_status in ('new', 'open', 'pending', 'on-hold') as is_open,
        priority,
        created_at,
        solved_at,
        satisfaction_score
    from tickets
    where _row_fate = 'staged'
)

select * from final
