{#- One row per (source record, identifier type, normalised value), from every staged source.
    Which columns feed which identifier type is declared in var identifier_sources (dbt_project.yml):
    adding a source there needs no change here or in the algorithm. -#}
{%- set sources = var('identifier_sources') -%}
with
{% for s in sources %}
{{ s.source_name }} as (
    select * from {{ ref(s.model) }}
),
{% endfor %}

observations as (
    {%- for s in sources %}
    {%- set outer_last = loop.last %}
    {%- for id_type, column in s.identifiers.items() %}
    select
        '{{ s.source_name }}' as source_name,
        cast({{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id,
        '{{ id_type }}' as identifier_type,
        cast({{ column }} as {{ cdp_type_string() }}) as identifier_value,
        {{ s.observed_at }} as observed_at
    from {{ s.source_name }}
    where {{ column }} is not null
    {% if not (outer_last and loop.last) %}union all{% endif %}
    {%- endfor %}
    {%- endfor %}
),

final as (
    select distinct
        {{ record_node('source_name', 'source_record_id') }} as record_key,
        source_name,
        source_record_id,
        identifier_type,
        identifier_value,
        observed_at
    from observations
)

select * from final
