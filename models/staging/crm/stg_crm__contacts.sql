with contacts as (
    select * from {{ ref('base_crm__contacts') }}
),

final as (
    select
        crm_contact_id,
        email,
        phone,
        first_name,
        last_name,
        company,
        job_title,
        city,
        country,
        lifecycle_stage,
        created_at,
        coalesce(updated_at, created_at) as updated_at
    from contacts
    where _row_fate = 'staged'
)

select * from final
