{#- One row per (source record, identifier type, normalised value), from every staged source.
    Which columns feed which identifier type is declared in the source registry (var raw_sources in dbt_project.yml):
    adding a source there needs no change here or in the algorithm.
    record_num and identifier_num are the integer node ids of the record and of the value (cdp_node_id), computed
    once here so that screening, both connected-components passes and the record-level result join integers. -#}
{%- set sources = identifier_sources() -%}
with observations as (
    {{- unpivot_source_columns(sources, 'identifiers', 'identifier_type', 'identifier_value') }}
),

distinct_observations as (
    select distinct
        {{ record_node('source_name', 'source_record_id') }} as record_key,
        source_name,
        source_record_id,
        identifier_type,
        identifier_value,
        observed_at
    from observations
),

final as (
    select
        record_key,
        source_name,
        source_record_id,
        identifier_type,
        identifier_value,
        observed_at,
        {{ record_node_id('record_key') }} as record_num,
        {{ identifier_node_id('identifier_type', 'identifier_value') }} as identifier_num
    from distinct_observations
)

select * from final
