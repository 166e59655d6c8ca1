{#- Every normalised identifier value with the person(s) whose records carry it, when it was first and
    last seen, which sources it came from, and whether the merge rules let it join records. A value the
    rules marked shared (a household landline) appears once per person that carries it.
    Incremental by value: a run deletes and rebuilds only the values of int_identity_scope_graph (that model
    says why the list is complete), reading only their observations and decisions. -#}
{{ scoped_incremental_config(identifier_node_id('identifier_type', 'identifier_value'), 'int_identity_scope_graph',
                             scope_key='identifier_num') }}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
    {%- if is_incremental() %}
    where identifier_num in (select identifier_num from {{ ref('int_identity_scope_graph') }})
    {%- endif %}
),

person_records as (
    select * from {{ ref('person_records') }}
),

decided as (
    select * from {{ ref('int_identifiers_decided') }}
    {%- if is_incremental() %}
    where identifier_num in (select identifier_num from {{ ref('int_identity_scope_graph') }})
    {%- endif %}
),

{#- The decision depends on (type, value) only, so it is joined after grouping: the group-by carries no
    string it does not need, over the observations instead of observations times decisions. -#}
grouped as (
    select
        observed.identifier_type,
        observed.identifier_value,
        person_records.person_id,
        min(observed.observed_at) as first_seen_at,
        max(observed.observed_at) as last_seen_at,
        {{ cdp_source_list('observed.source_name') }} as sources,
        count(*) as record_count  -- observed is unique per (record, type, value): tested
    from observed
    inner join person_records
        on person_records.record_key = observed.record_key
    group by observed.identifier_type, observed.identifier_value, person_records.person_id
),

final as (
    select
        grouped.identifier_type,
        grouped.identifier_value,
        grouped.person_id,
        grouped.first_seen_at,
        grouped.last_seen_at,
        grouped.sources,
        grouped.record_count,
        decided.decision as merge_decision
    from grouped
    inner join decided
        on decided.identifier_type = grouped.identifier_type
        and decided.identifier_value = grouped.identifier_value
)

select * from final
