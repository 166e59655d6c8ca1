{#- SQL shared by several identity and profile models. -#}

{#- One row per (source record, name, value) from a per-source mapping of names to columns in
    the source registry (var raw_sources) (mapping_key 'identifiers' or 'attributes'). -#}
{% macro unpivot_source_columns(sources, mapping_key, name_column, value_column) -%}
    {%- for s in sources %}
    {%- set outer_last = loop.last %}
    {%- for name, column in s[mapping_key].items() %}
    select
        '{{ s.source_name }}' as source_name,
        cast({{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id,
        '{{ name }}' as {{ name_column }},
        cast({{ column }} as {{ cdp_type_string() }}) as {{ value_column }},
        {{ s.observed_at }} as observed_at
    from {{ ref(s.model) }}
    where {{ column }} is not null
    {% if not (outer_last and loop.last) %}union all{% endif %}
    {%- endfor %}
    {%- endfor %}
{%- endmacro %}

{#- The current person id of each record: its latest row in the append-only id ledger. -#}
{% macro latest_person_ids(ledger) -%}
    select record_key, person_id
    from (
        select
            record_key,
            person_id,
            row_number() over (partition by record_key order by assigned_at desc, person_id) as recency
        from {{ ledger }}
    ) as ranked
    where recency = 1
{%- endmacro %}

{#- Edge list for connected_components: record -> identifier for every identifier value whose merge
    decision is 'used' (only strong types when strong_only), plus a self-edge per record. -#}
{% macro identity_edges(decisions, strong_only) -%}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

decisions as (
    select * from {{ ref(decisions) }}
),

used_edges as (
    select
        observed.record_key as node_a,
        {{ identifier_node('observed.identifier_type', 'observed.identifier_value') }} as node_b
    from observed
    inner join decisions
        on decisions.identifier_type = observed.identifier_type
        and decisions.identifier_value = observed.identifier_value
    where decisions.decision = 'used'
    {%- if strong_only %}
        and decisions.is_strong
    {%- endif %}
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
{%- endmacro %}
