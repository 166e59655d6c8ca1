{#- Scope of person_records (one row per record: its source, key, observed_at and current person id): the
    records whose row could differ from a full build on this run. Why the list is complete: a record's row
    reads its observations (changed only for the records of int_identity_scope_records, which also lists the
    records that vanished) and its latest row in the append-only person-id ledger, which changes only when this
    run appended a row for it (assigned_at is the run's start: a new record, a merge, a split) or when its
    rows were purged by an erasure (then the record vanished from staging too, and is listed already); and its
    join basis (int_clusters_matched's row for its deterministic cluster), which can change without a new id
    only for records that had a basis other than identifier or whose cluster has a row now (reason rejoined). -#}
{%- set run_ts = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ cdp_type_timestamp() ~ ")" -%}
{#- first build: before person_records and identity_graph (which reads this scope too) exist, both build in
    full and this scope stays empty -#}
{%- set first_build = identity_stored('person_records') is none and identity_stored('identity_graph') is none -%}
{%- set stored = identity_stored('person_records') -%}
{%- set _matched = ref('int_clusters_matched') -%}
{%- set _resolved = ref('int_records_resolved') -%}
with changed_records as (
    select record_key from {{ ref('int_identity_scope_records') }}
),

moved_records as (
    select record_key
    from {{ ref('int_person_ids_assigned') }}
    where assigned_at = {{ run_ts }}
),

{% if stored is not none and identity_has_column(stored, 'joined_by') %}
rejoined_records as (
    select stored.record_key
    from {{ stored }} as stored
    inner join {{ ref('int_records_resolved') }} as resolved
        on resolved.record_key = stored.record_key
    left join {{ ref('int_clusters_matched') }} as matched
        on matched.node = resolved.deterministic_cluster_id
    where (stored.joined_by <> 'identifier' or matched.node is not null)
        and (coalesce(matched.join_kind, 'identifier') <> stored.joined_by
            or coalesce(matched.join_probability, -1) <> coalesce(stored.join_probability, -1)
            or coalesce(matched.join_record_key_a, '') <> coalesce(stored.joined_record_key_a, '')
            or coalesce(matched.join_record_key_b, '') <> coalesce(stored.joined_record_key_b, ''))
),
{% else %}
rejoined_records as (
    select record_key from changed_records where 1 = 0
),
{% endif %}

final as (
    select record_key from changed_records
    union
    select record_key from rejoined_records
    union
    select record_key from moved_records
    {%- if first_build %}
    where 1 = 0
    {%- endif %}
)

select * from final
