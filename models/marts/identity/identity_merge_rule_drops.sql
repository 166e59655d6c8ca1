{#- Identifier values the merge rules kept from joining records, with the rule and the evidence.
    Nothing is dropped silently: each value here is still in identity_graph, only not used to merge.
    Incremental by value like identity_graph, with its scope (int_identity_scope_graph: the values whose
    decision, records or persons could change). -#}
{{ scoped_incremental_config(identifier_node_id('identifier_type', 'identifier_value'), 'int_identity_scope_graph',
                             scope_key='identifier_num') }}
with decided as (
    select * from {{ ref('int_identifiers_decided') }}
    {%- if is_incremental() %}
    where identifier_num in (select identifier_num from {{ ref('int_identity_scope_graph') }})
    {%- endif %}
),

graph as (
    select graph.*
    from {{ ref('identity_graph') }} as graph
    {%- if is_incremental() %}
    inner join decided
        on decided.identifier_type = graph.identifier_type
        and decided.identifier_value = graph.identifier_value
    {%- endif %}
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
