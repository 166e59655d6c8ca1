{#- One row per source record that carries at least one usable identifier, with its current person id. -#}
with ledger as (
    select * from {{ ref('int_person_ids_assigned') }}
),

records as (
    select * from {{ ref('int_records_resolved') }}
),

current_ids as (
    {{ latest_person_ids('ledger') }}
),

final as (
    select
        records.source_name,
        records.source_record_id,
        current_ids.person_id,
        records.record_key,
        records.observed_at
    from records
    inner join current_ids
        on current_ids.record_key = records.record_key
)

select * from final
