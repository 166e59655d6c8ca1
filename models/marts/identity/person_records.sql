{#- One row per source record that carries at least one usable identifier, with its current person id and how
    it joined that person (record_join_basis: shared identifiers, a probabilistic match, a reviewer's merge).
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

matched as (
    select * from {{ ref('int_clusters_matched') }}
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
        records.observed_at,
        {{ record_join_basis('matched') }}
    from records
    inner join current_ids
        on current_ids.record_key = records.record_key
    left join matched
        on matched.node = records.deterministic_cluster_id
)

select * from final
