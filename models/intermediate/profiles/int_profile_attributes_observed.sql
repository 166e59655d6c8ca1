{#- Every value a person's records carry for a profile attribute (var identifier_sources.attributes). -#}
{%- set sources = var('identifier_sources') | selectattr('attributes', 'defined') | list -%}
with person_records as (
    select * from {{ ref('person_records') }}
),

{% for s in sources %}
{{ s.source_name }} as (
    select * from {{ ref(s.model) }}
),
{% endfor %}

observed as (
    {%- for s in sources %}
    {%- set outer_last = loop.last %}
    {%- for attribute, column in s.attributes.items() %}
    select
        '{{ s.source_name }}' as source_name,
        cast({{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id,
        '{{ attribute }}' as attribute,
        cast({{ column }} as {{ cdp_type_string() }}) as value,
        {{ s.observed_at }} as observed_at
    from {{ s.source_name }}
    where {{ column }} is not null
    {% if not (outer_last and loop.last) %}union all{% endif %}
    {%- endfor %}
    {%- endfor %}
),

final as (
    select
        person_records.person_id,
        observed.attribute,
        observed.value,
        observed.source_name,
        observed.observed_at
    from observed
    inner join person_records
        on person_records.source_name = observed.source_name
        and person_records.source_record_id = observed.source_record_id
)

select * from final
