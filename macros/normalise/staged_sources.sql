{#- The source registry (var raw_sources in dbt_project.yml) and the views of it that models use: one
    declaration per raw source, read here and nowhere else in SQL. -#}

{% macro raw_sources() -%}
    {{ return(var('raw_sources')) }}
{%- endmacro %}

{#- One source's declaration, by name; an unknown name is a clear compile error, not an empty model. -#}
{% macro raw_source(source_name) -%}
    {%- for s in var('raw_sources') if s.source_name == source_name -%}
        {{ return(s) }}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error("no raw source '" ~ source_name ~ "' in var raw_sources (dbt_project.yml)") }}
{%- endmacro %}

{#- Base models with their record key and which identifier verdicts they carry: quality marts iterate it. -#}
{% macro staged_sources() -%}
    {%- set staged = [] -%}
    {%- for s in var('raw_sources') -%}
        {%- do staged.append({'source_name': s.source_name, 'base': s.base, 'key': s.record_id,
                              'email': 'email' in s.get('quality', []), 'phone': 'phone' in s.get('quality', [])}) -%}
    {%- endfor -%}
    {{ return(staged) }}
{%- endmacro %}

{#- Sources that supply identifiers (and so records of a person): identity and profile models read these. -#}
{% macro identifier_sources() -%}
    {{ return(var('raw_sources') | selectattr('identifiers', 'defined') | list) }}
{%- endmacro %}

{#- A base model's row fate from its declaration: the record key (the raw row's hash when the source has
    no key) and latest_by, the timestamps whose first non-null orders versions (latest wins) and stamps the
    row for the CDP_AS_OF cut. -#}
{% macro row_fate_for(source_name) -%}
    {%- set s = raw_source(source_name) -%}
    {%- set key = s.record_id if s.get('raw_key') else '_raw_row_hash' -%}
    {%- set latest = s.latest_by | join(', ') -%}
    {%- set stamp = 'coalesce(' ~ latest ~ ')' if s.latest_by | length > 1 else latest -%}
    {{ row_fate(key, stamp ~ ' desc nulls last', stamp=stamp) }}
{%- endmacro %}
