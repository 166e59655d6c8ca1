{#- SQL shared by several identity and profile models. -#}

{#- One row per (source record, name, value) from a per-source mapping of names to columns in
    the source registry (var raw_sources) (mapping_key 'identifiers' or 'attributes'). record_scope: a relation
    with source_name and source_record_id; when given, only those records are read. -#}
{% macro unpivot_source_columns(sources, mapping_key, name_column, value_column, record_scope=none) -%}
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
    {%- if record_scope is not none %}
        and cast({{ s.record_id }} as {{ cdp_type_string() }}) in (
            select source_record_id from {{ record_scope }} where source_name = '{{ s.source_name }}')
    {%- endif %}
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

{#- How a record joined its person, from its deterministic cluster's row in int_clusters_matched (alias `matched`,
    left-joined; no row: the cluster stands alone): identifier (shared identifiers only), probabilistic_match or
    reviewer_merge (the edge through which its cluster was reached from the person's first cluster). -#}
{% macro record_join_basis(matched) -%}
        coalesce({{ matched }}.join_kind, 'identifier') as joined_by,
        {{ matched }}.join_probability,
        {{ matched }}.join_record_key_a as joined_record_key_a,
        {{ matched }}.join_record_key_b as joined_record_key_b
{%- endmacro %}
