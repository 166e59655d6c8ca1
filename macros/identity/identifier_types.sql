{#- The identifier types and their merge rules (var identifier_types) as an inline relation. -#}
{% macro identifier_types_relation() -%}
    {%- for name, cfg in var('identifier_types').items() %}
    select
        '{{ name }}' as identifier_type,
        {{ cfg.priority }} as priority,
        {{ cfg.max_per_person }} as max_per_person,
        {{ 'true' if cfg.strong else 'false' }} as is_strong
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- Graph node keys: one namespace for records, one for identifier values. -#}
{% macro record_node(source_name, source_record_id) -%}
    'r|' || {{ source_name }} || '|' || {{ source_record_id }}
{%- endmacro %}

{% macro identifier_node(identifier_type, identifier_value) -%}
    'i|' || {{ identifier_type }} || '|' || {{ identifier_value }}
{%- endmacro %}

{#- Integer ids of the same nodes (cdp_node_id): what the identity graph's work tables hold. -#}
{% macro record_node_id(record_key) -%}
    {{ cdp_node_id(record_key) }}
{%- endmacro %}

{% macro identifier_node_id(identifier_type, identifier_value) -%}
    {{ cdp_node_id(identifier_node(identifier_type, identifier_value)) }}
{%- endmacro %}
