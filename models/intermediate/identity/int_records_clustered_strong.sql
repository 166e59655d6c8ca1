{{ config(materialized='connected_components') }}
{#- Pass 1: records joined through strong identifiers (CRM contact id, shop customer id, email) that the
    merge rules allow. Every record is a node (self-edge), so records without a strong identifier stay. -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

screened as (
    select * from {{ ref('int_identifiers_screened') }}
),

strong_edges as (
    select
        observed.record_key as node_a,
        {{ identifier_node('observed.identifier_type', 'observed.identifier_value') }} as node_b
    from observed
    inner join screened
        on screened.identifier_type = observed.identifier_type
        and screened.identifier_value = observed.identifier_value
    where screened.decision = 'used'
        and screened.is_strong
),

record_nodes as (
    select distinct record_key as node_a, record_key as node_b
    from observed
),

final as (
    select node_a, node_b from strong_edges
    union all
    select node_a, node_b from record_nodes
)

select * from final
