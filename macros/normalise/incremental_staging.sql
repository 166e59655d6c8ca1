{#- Incremental staging.

    A base_ model types, normalises and gives a fate to every raw row. Normalising is the expensive part,
    and a row's fate depends only on the other rows with the same record key (versions and byte-for-byte
    copies share a key). So an incremental run re-stages whole keys, and only the keys whose raw rows
    changed:

    1. pre-hook `delete_changed_raw_keys()`: compare raw rows with stored rows by (key, raw-row hash,
       number of copies); delete the stored rows of every key where they differ (new version, new copy,
       changed or vanished row), and of every key with a row outside the timestamp horizon (horizon.sql);
    2. the model's `raw_rows_to_stage()` filter: stage the raw rows whose key is not stored (after the
       delete: the changed keys and the new ones).

    The result equals a full rebuild (tests/test_incremental.py compares them). The model declares its
    source by name with incremental_staging_config('<source_name>'), which reads the source registry, so
    the hook and the filter agree. On engines whose tables cannot DELETE (Spark's parquet tables) base models
    are plain tables. -#}

{#- The config of an incremental base model, from its source's declaration (var raw_sources): the raw
    source, the raw key as SQL over alias `source` (none: the raw-row hash), the stored key column and the
    raw columns. -#}
{% macro incremental_staging_config(source_name) -%}
    {%- set s = raw_source(source_name) -%}
    {%- set settings = {
        'materialized': staging_materialization(),
        'incremental_strategy': 'append',
        'on_schema_change': 'fail',
        'pre_hook': '{{ delete_changed_raw_keys() }}',
        'cdp_raw_source': [s.source, s.source_name],
        'cdp_key_column': s.record_id,
        'cdp_raw_columns': s.raw_columns,
    } -%}
    {%- if s.get('raw_key') %}{% do settings.update({'cdp_raw_key': clean_text('source.' ~ s.raw_key)}) %}{% endif -%}
    {#- privacy erasure (macros/privacy/erasure.sql): rows with an erased identifier are deleted after each build -#}
    {%- if erasable_columns(s) -%}
    {#- the ledger builds first (a unit test of the model has no ledger to give) -#}
    {%- if model.resource_type != 'unit_test' %}{% set _ledger = ref('privacy_erased_identifiers') %}{% endif -%}
    {%- do settings.update({'post_hook': '{{ delete_erased_rows("' ~ source_name ~ '") }}'}) -%}
    {%- endif -%}
    {%- do config(**settings) -%}
{%- endmacro %}

{% macro staging_materialization() -%}
    {{ return(adapter.dispatch('staging_materialization', 'cdp')()) }}
{%- endmacro %}
{% macro default__staging_materialization() -%}{{ return('incremental') }}{%- endmacro %}
{% macro spark__staging_materialization() -%}{{ return('table') }}{%- endmacro %}

{#- The raw key as SQL over alias `source`; a source without a record key (consent events) is keyed by its
    raw-row hash. -#}
{% macro _raw_key_sql() -%}
    {%- set hash_sql = raw_row_hash(config.get('cdp_raw_columns')) -%}
    {{ return('coalesce(' ~ config.get('cdp_raw_key', hash_sql) ~ ", '')") }}
{%- endmacro %}

{#- The raw relation with the key and hash every comparison uses. -#}
{% macro _raw_keyed_rows() -%}
    {%- set src = config.get('cdp_raw_source') -%}
    select
        {{ _raw_key_sql() }} as _key,
        {{ raw_row_hash(config.get('cdp_raw_columns')) }} as _hash
    from {{ source(src[0], src[1]) }} as source
{%- endmacro %}

{% macro delete_changed_raw_keys() -%}
    {%- if is_incremental() and _stored_columns_differ() -%}
    {{ log(this.identifier ~ ": stored columns differ from the model's (an upgrade); re-staging every row", info=True) }}
    create or replace table {{ this }} as select * from ({{ model.compiled_code }}) as restaged limit 0
    {%- elif is_incremental() and _stored_as_of_differs() -%}
    {{ log(this.identifier ~ ": CDP_AS_OF changed since the last run (now " ~ (cdp_as_of_cut() or 'unset') ~ "); re-staging every row", info=True) }}
    delete from {{ this }}
    {%- elif is_incremental() -%}
    {%- set key_column = config.get('cdp_key_column') -%}
    delete from {{ this }}
    where coalesce({{ key_column }}, '') in (
        with raw_counts as (
            select _key, _hash, count(*) as copies
            from ({{ _raw_keyed_rows() }}) as raw_rows
            group by _key, _hash
        ),
        stored_counts as (
            select coalesce({{ key_column }}, '') as _key, _raw_row_hash as _hash, count(*) as copies
            from {{ this }}
            group by coalesce({{ key_column }}, ''), _raw_row_hash
        )
        select coalesce(raw_counts._key, stored_counts._key)
        from raw_counts
        full outer join stored_counts
            on stored_counts._key = raw_counts._key and stored_counts._hash = raw_counts._hash
        where raw_counts.copies is null or stored_counts.copies is null
            or raw_counts.copies <> stored_counts.copies
        union all
        {# outside the timestamp horizon at their last staging: the horizon moves with the load #}
        select coalesce({{ key_column }}, '') from {{ this }}
        where _quarantine_reason like '{{ out_of_horizon_reason_prefix() }}%'
    )
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- A row's fate depends on the as-of cut, so rows staged under another cut cannot be kept. -#}
{% macro _stored_as_of_differs() -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set result = run_query('select count(*) from ' ~ this ~ ' where _staged_as_of is distinct from '
                               ~ cdp_as_of_literal()) -%}
    {{ return(result.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- After an upgrade that changed a base model's columns, its stored rows cannot be kept: the hook then
    replaces the table with an empty one of the model's columns, and the model stages every raw row,
    which equals a full rebuild. -#}
{% macro _stored_columns_differ() -%}
    {%- set stored = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set expected = get_columns_in_query(model.compiled_code) | map('lower') | list -%}
    {{ return(stored | sort != expected | sort) }}
{%- endmacro %}

{#- Where-clause for the model's source CTE: all rows on a full build, unstored keys when incremental. -#}
{% macro raw_rows_to_stage() -%}
    {%- if is_incremental() -%}
    where {{ _raw_key_sql() }} not in (
        select distinct coalesce({{ config.get('cdp_key_column') }}, '') from {{ this }}
    )
    {%- endif -%}
{%- endmacro %}

{#- When this run staged the row (run start, UTC): on an incremental run only re-staged keys get the new
    time, which shows what the run touched. -#}
{% macro staged_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as {{ cdp_type_timestamp() }})
{%- endmacro %}
