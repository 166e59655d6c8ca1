{#- What may join or separate deterministic clusters, one row per record pair in two clusters: the probabilistic
    tier's confident pairs (match probability >= var auto_merge_threshold), reviewers' merges, and reviewers'
    keep_apart decisions (a constraint); a decided pair's score is not read (int_identity_pairs_undecided). Clusters
    are the deterministic graph's pass-2 clusters of each record. -#}
{%- set auto_merge = var('auto_merge_threshold') | float -%}
with pairs as (
    select * from {{ ref('int_identity_pairs_undecided') }}
    where match_probability >= {{ auto_merge }}
),

decisions as (
    select * from {{ ref('int_identity_decisions') }}
    where is_applied
),

strong_clusters as (
    select * from {{ ref('int_records_clustered_strong') }}
),

clusters as (
    select * from {{ ref('int_records_clustered') }}
),

record_clusters as (
    select strong_clusters.node as record_num, clusters.component_id as cluster_id
    from strong_clusters
    inner join clusters
        on clusters.node = strong_clusters.component_id
),

scored as (
    select record_key_a, record_key_b, 'probabilistic_match' as edge_kind, match_probability
    from pairs
),

reviewed as (
    select
        record_key_a,
        record_key_b,
        case decision when 'merge' then 'reviewer_merge' else 'keep_apart' end as edge_kind,
        cast(null as double) as match_probability
    from decisions
),

edges as (
    select * from scored
    union all
    select * from reviewed
),

final as (
    select
        edges.record_key_a,
        edges.record_key_b,
        clusters_a.cluster_id as cluster_a,
        clusters_b.cluster_id as cluster_b,
        edges.edge_kind,
        edges.match_probability
    from edges
    inner join record_clusters as clusters_a
        on clusters_a.record_num = {{ record_node_id('edges.record_key_a') }}
    inner join record_clusters as clusters_b
        on clusters_b.record_num = {{ record_node_id('edges.record_key_b') }}
    where clusters_a.cluster_id <> clusters_b.cluster_id
)

select * from final
