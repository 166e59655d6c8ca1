{#- Current privacy requests (one per request id), identifiers as salted hashes only. -#}
with requests as (
    select * from {{ ref('base_privacy__requests') }}
),

final as (
    select
        request_id,
        request_type,
        email_hash,
        phone_hash,
        received_at
    from requests
    where _row_fate = 'staged'
)

select * from final
