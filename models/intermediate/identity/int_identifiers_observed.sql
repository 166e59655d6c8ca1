{#- One row per (source record, identifier type, normalised value), from every staged source.
    Which columns feed which identifier type is declared in the source registry (var raw_sources in dbt_project.yml):
    adding a source there needs no change here or in the algorithm.
    record_num and identifier_num are the integer node ids of the record and of the value (cdp_node_id), computed
    once here so that screening, both connected-components passes and the record-level result join integers.
    Incremental by record: a run deletes and rebuilds only the records of int_identity_scope_records (re-staged
    since _staged_through, or vanished; that model says why the list is complete). _staged_through: the latest
    base _staged_at when the row was built, the scope's watermark. -#}
{{ scoped_incremental_config('record_num', 'int_identity_scope_records') }}
{#- the old values of the scope's records are read before this model replaces them -#}
{%- set _old_values = ref('int_identity_scope_old_values') -%}
{%- set sources = identifier_sources() -%}
{%- set scope = ref('int_identity_scope_records') if is_incremental() else none -%}
with observations as (
    {{- unpivot_source_columns(sources, 'identifiers', 'identifier_type', 'identifier_value', record_scope=scope) }}
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
        {{ identifier_node_id('identifier_type', 'identifier_value') }} as identifier_num,
        {{ identity_staged_through() }} as _staged_through
    from distinct_observations
)

select * from final
