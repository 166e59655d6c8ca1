{#- Each record with its final cluster: its strong cluster (pass 1, int_records_clustered_strong), that
    cluster's component in pass 2 (int_records_clustered, over the contracted graph: the deterministic cluster),
    and the cluster the probabilistic tier and reviewers joined it into (int_clusters_matched). One row per record, with
    the record's key and when it was last observed, so the person-id ledger and person_records read records
    from here instead of grouping the observations again.
    Incremental by record: a run deletes and rebuilds only the records of int_identity_scope_resolved (changed,
    vanished, or in another cluster than before; that model says why the list is complete). -#}
{{ scoped_incremental_config('record_num', 'int_identity_scope_resolved') }}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
    where {{ in_scope('record_num') }}
),

strong_clusters as (
    select * from {{ ref('int_records_clustered_strong') }}
),

clusters as (
    select * from {{ ref('int_records_clustered') }}
),

matched as (
    select * from {{ ref('int_clusters_matched') }}
),

records as (
    select
        record_num,
        min(record_key) as record_key,  -- functions of record_num: min only picks the one value
        min(source_name) as source_name,
        min(source_record_id) as source_record_id,
        max(observed_at) as observed_at
    from observed
    group by record_num
),

final as (
    select
        records.record_key,
        records.record_num,
        records.source_name,
        records.source_record_id,
        records.observed_at,
        clusters.component_id as deterministic_cluster_id,
        coalesce(matched.component_id, clusters.component_id) as cluster_id
    from records
    inner join strong_clusters
        on strong_clusters.node = records.record_num
    inner join clusters
        on clusters.node = strong_clusters.component_id
    left join matched
        on matched.node = clusters.component_id
)

select * from final
