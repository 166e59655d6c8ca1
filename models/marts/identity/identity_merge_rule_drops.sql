{#- Identifier values the merge rules kept from joining records, with the rule and the evidence.
    Nothing is dropped silently: each value here is still in identity_graph, only not used to merge. -#}
with decided as (
    select * from {{ ref('int_identifiers_decided') }}
),

graph as (
    select * from {{ ref('identity_graph') }}
),

persons_touched as (
    select identifier_type, identifier_value, count(distinct person_id) as person_count
    from graph
    group by identifier_type, identifier_value
),

final as (
    select
        decided.identifier_type,
        decided.identifier_value,
        decided.decision as merge_rule,
        decided.decision_detail,
        decided.record_count,
        coalesce(persons_touched.person_count, 0) as person_count
    from decided
    left join persons_touched
        on persons_touched.identifier_type = decided.identifier_type
        and persons_touched.identifier_value = decided.identifier_value
    where decided.decision <> 'used'
)

select * from final
