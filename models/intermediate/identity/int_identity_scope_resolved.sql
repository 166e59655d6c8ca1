{#- Scope of int_records_resolved (one row per record: its key, source, observed_at and final cluster): the
    records whose row could differ from a full build on this run. Why the list is complete: a record's row
    reads its own observations (changed only for the records of int_identity_scope_records, which also lists
    the records that vanished) and its final cluster (its strong cluster's component in pass 2, joined by int_clusters_matched), so every
    other record is listed exactly when its cluster id (final or deterministic) now differs from the stored one (reason cluster): the
    two passes' results and the stored table are joined on integer ids, cheaper than rebuilding every row.
    The stored table is read by name as the previous run left it. -#}
{%- set resolved = identity_stored('int_records_resolved') -%}
{#- parsed without a warehouse: name the inputs outside the branch below, so dbt orders them first -#}
{%- set _strong = ref('int_records_clustered_strong') -%}
{%- set _clusters = ref('int_records_clustered') -%}
{%- set _matched = ref('int_clusters_matched') -%}
with changed_records as (
    select record_num, record_key, 'record' as reason from {{ ref('int_identity_scope_records') }}
),

{% if resolved is not none %}
new_clusters as (
    select
        strong_clusters.node as record_num,
        clusters.component_id as deterministic_cluster_id,
        coalesce(matched.component_id, clusters.component_id) as cluster_id
    from {{ ref('int_records_clustered_strong') }} as strong_clusters
    inner join {{ ref('int_records_clustered') }} as clusters
        on clusters.node = strong_clusters.component_id
    left join {{ ref('int_clusters_matched') }} as matched
        on matched.node = clusters.component_id
),

moved as (
    select stored.record_num, stored.record_key, 'cluster' as reason
    from {{ resolved }} as stored
    inner join new_clusters
        on new_clusters.record_num = stored.record_num
    where new_clusters.cluster_id <> stored.cluster_id
    {%- if identity_has_column(resolved, 'deterministic_cluster_id') %}
        or new_clusters.deterministic_cluster_id <> stored.deterministic_cluster_id
    {%- endif %}
),
{% else %}
moved as (
    select record_num, record_key, reason from changed_records where 1 = 0
),
{% endif %}

final as (
    select record_num, record_key, reason from changed_records
    union all
    select moved.record_num, moved.record_key, moved.reason
    from moved
    where moved.record_num not in (select record_num from changed_records)
)

select * from final
