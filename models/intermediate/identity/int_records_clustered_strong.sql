{{ config(materialized='connected_components', incremental_components=true, integer_nodes=true) }}
{#- Pass 1: records joined through strong identifiers (CRM contact id, shop customer id, email) that the
    merge rules allow (and no reviewer's keep_apart took out). Every record is a node (self-edge), so records without a strong identifier stay.
    Nodes are the integer ids of int_identifiers_observed (record_num, identifier_num). -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

screened as (
    select * from {{ ref('int_identifiers_screened') }}
),

kept_apart as (
    select * from {{ ref('int_identity_values_kept_apart') }}
),

used_edges as (
    select
        observed.record_num as node_a,
        observed.identifier_num as node_b
    from observed
    inner join screened
        on screened.identifier_num = observed.identifier_num
    where screened.decision = 'used'
        and screened.is_strong
        and observed.identifier_num not in (select identifier_num from kept_apart)
),

record_nodes as (
    select distinct record_num as node_a, record_num as node_b
    from observed
),

final as (
    select node_a, node_b from used_edges
    union all
    select node_a, node_b from record_nodes
)

select * from final
