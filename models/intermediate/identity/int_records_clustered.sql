{{ config(materialized='connected_components') }}
{#- Pass 2: records joined through every identifier the merge rules allow, strong and weak. -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

decided as (
    select * from {{ ref('int_identifiers_decided') }}
),

used_edges as (
    select
        observed.record_key as node_a,
        {{ identifier_node('observed.identifier_type', 'observed.identifier_value') }} as node_b
    from observed
    inner join decided
        on decided.identifier_type = observed.identifier_type
        and decided.identifier_value = observed.identifier_value
    where decided.decision = 'used'
),

record_nodes as (
    select distinct record_key as node_a, record_key as node_b
    from observed
),

final as (
    select node_a, node_b from used_edges
    union all
    select node_a, node_b from record_nodes
)

select * from final
