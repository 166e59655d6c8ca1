with consents as (
    select * from {{ ref('base_email__consents') }}
),

final as (
    select
        email_consent_event_id,
        email,
        consent_status,
        consent_source,
        updated_at
    from consents
    where _row_fate = 'staged'
)

select * from final
