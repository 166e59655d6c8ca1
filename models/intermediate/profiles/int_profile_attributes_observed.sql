{#- Every value a person's records carry for a profile attribute (source registry var raw_sources, key attributes). -#}
{%- set sources = identifier_sources() | selectattr('attributes', 'defined') | list -%}
with person_records as (
    select * from {{ ref('person_records') }}
),

observed as (
    {{- unpivot_source_columns(sources, 'attributes', 'attribute', 'value') }}
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
