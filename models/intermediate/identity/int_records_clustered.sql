{{ config(materialized='connected_components', incremental_components=true, integer_nodes=true) }}
{#- Pass 2: the strong clusters of pass 1 joined through the weak identifiers (phone, anonymous id) that the
    merge rules allow (and no reviewer's keep_apart took out). Strong identifiers keep their pass-1 decision, so the records' final clusters are unions
    of strong clusters: the graph of this pass is contracted to one node per strong cluster (its component id)
    plus one per used weak value, and only the weak edges are labelled again, instead of every record and
    identifier a second time. node: a strong cluster's id or a weak value's identifier_num; int_records_resolved
    maps records to the result. -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

decided as (
    select * from {{ ref('int_identifiers_decided') }}
),

strong_clusters as (
    select * from {{ ref('int_records_clustered_strong') }}
),

kept_apart as (
    select * from {{ ref('int_identity_values_kept_apart') }}
),

weak_edges as (
    select distinct
        strong_clusters.component_id as node_a,
        observed.identifier_num as node_b
    from observed
    inner join decided
        on decided.identifier_num = observed.identifier_num
    inner join strong_clusters
        on strong_clusters.node = observed.record_num
    where decided.decision = 'used'
        and not decided.is_strong
        and observed.identifier_num not in (select identifier_num from kept_apart)
),

cluster_nodes as (
    select distinct component_id as node_a, component_id as node_b
    from strong_clusters
),

final as (
    select node_a, node_b from weak_edges
    union all
    select node_a, node_b from cluster_nodes
)

select * from final
