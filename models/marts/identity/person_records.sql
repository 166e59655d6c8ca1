{#- One row per source record that carries at least one usable identifier, with its current person id.
    Incremental by record: a run deletes and rebuilds only the records of int_identity_scope_person_records
    (changed, vanished, or given an id by this run; that model says why the list is complete). -#}
{{ scoped_incremental_config('record_key', 'int_identity_scope_person_records') }}
with ledger as (
    select * from {{ ref('int_person_ids_assigned') }}
    where {{ in_scope('record_key') }}
),

records as (
    select * from {{ ref('int_records_resolved') }}
    where {{ in_scope('record_key') }}
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
