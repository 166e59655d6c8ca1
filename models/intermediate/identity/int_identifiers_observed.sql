{#- One row per (source record, identifier type, normalised value), from every staged source.
    Which columns feed which identifier type is declared in the source registry (var raw_sources in dbt_project.yml):
    adding a source there needs no change here or in the algorithm. -#}
{%- set sources = identifier_sources() -%}
with observations as (
    {{- unpivot_source_columns(sources, 'identifiers', 'identifier_type', 'identifier_value') }}
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
