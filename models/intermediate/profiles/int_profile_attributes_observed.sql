{{ profile_scoped_config() }}
{#- Every value a person's records carry for a profile attribute (source registry var raw_sources, key attributes).
    One pass per source: each staged source is read and joined to its persons once, then its attribute columns
    are unpivoted (a cross join with the source's attribute names), instead of one scan and one person join per
    (source, attribute). Incremental by person: a run rewrites the rows of the persons in
    int_profile_scope_persons only (their records changed), the others' rows stay as stored. -#}
{%- set sources = identifier_sources() | selectattr('attributes', 'defined') | list -%}
with person_records as (
    select * from {{ ref('person_records') }}
    where {{ in_scope('person_id') }}
),

{% for s in sources %}
{{ s.source_name }}_persons as (
    select
        person_records.person_id,
        source.{{ s.observed_at }} as observed_at,
        {%- for attribute, column in s.attributes.items() %}
        cast(source.{{ column }} as {{ cdp_type_string() }}) as attribute_{{ loop.index }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref(s.model) }} as source
    inner join person_records
        on person_records.source_name = '{{ s.source_name }}'
        and person_records.source_record_id = cast(source.{{ s.record_id }} as {{ cdp_type_string() }})
),

{{ s.source_name }}_attributes as (
    {%- for attribute in s.attributes %}
    select {{ loop.index }} as attribute_index, '{{ attribute }}' as attribute
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{{ s.source_name }}_values as (
    select
        persons.person_id,
        names.attribute,
        case names.attribute_index
            {%- for attribute in s.attributes %}
            when {{ loop.index }} then persons.attribute_{{ loop.index }}
            {%- endfor %}
        end as value,
        '{{ s.source_name }}' as source_name,
        persons.observed_at
    from {{ s.source_name }}_persons as persons
    cross join {{ s.source_name }}_attributes as names
),

{% endfor %}
final as (
    {%- for s in sources %}
    select person_id, attribute, value, source_name, observed_at
    from {{ s.source_name }}_values
    where value is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
