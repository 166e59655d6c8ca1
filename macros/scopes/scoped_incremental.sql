{#- Incremental past staging: the macros of a scoped model (this folder holds every scope macro).

    A model keyed by one column (a record, an identifier value, a person) recomputes only the keys in its
    scope: a small model listing the keys whose inputs changed since the model last ran. Three parts:

    1. the model's config, `scoped_incremental_config(key, scope)`, in the model's first lines;
    2. pre-hook `delete_scope_rows()`: delete the stored rows of every key in the scope (this also removes
       keys that vanished: a scope lists them, and the model's SQL selects nothing for them);
    3. `in_scope(column)` in the model's SQL, where it reads its inputs: true on a full build, and on an
       incremental run only for the scope's keys; the rows are appended.

    The scope model decides correctness: it must list every key whose rows could differ from a full build's.
    On a full build or --full-refresh the model builds every key. Engines whose tables cannot DELETE (Spark's
    parquet tables) build the table in full, as staging does (staging_materialization). A stored table whose
    columns differ from the model's (an upgrade) fails with dbt's schema-change error, which names
    --full-refresh, unless the model passes new_columns_rebuild=true: its scope then puts every key in scope
    when the model's definition changed (the profile scope: profile_scoped_config), and the pre-hook
    replaces the stored table with an empty one of the model's columns before every key is appended. -#}
{% macro scoped_incremental_config(key, scope, scope_key=none, new_columns_rebuild=false) -%}
    {#- ref here, in the model's own parse, so dbt orders the scope before the model (not in a unit test: it
        builds the model in full from its given inputs, and the scope is not one of them) -#}
    {%- if model.resource_type != 'unit_test' %}{% set _scope_relation = ref(scope) %}{% endif -%}
    {%- do config(
        materialized=staging_materialization(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook='{{ delete_scope_rows() }}',
        cdp_scope={'key': key, 'scope': scope, 'scope_key': scope_key or key,
                   'new_columns_rebuild': new_columns_rebuild},
    ) -%}
{%- endmacro %}

{#- The scope's keys as a subquery, for the pre-hook and the filter. -#}
{% macro _scope_keys() -%}
    {%- set s = config.get('cdp_scope') -%}
    (select {{ s.scope_key }} from {{ ref(s.scope) }})
{%- endmacro %}

{% macro delete_scope_rows() -%}
    {%- if is_incremental() and config.get('cdp_scope').new_columns_rebuild and _stored_columns_differ() -%}
    {{ log(this.identifier ~ ": the model's columns changed; every key is in scope, rebuilding the table", info=True) }}
    create or replace table {{ this }} as select * from ({{ model.compiled_code }}) as rebuilt limit 0
    {%- elif is_incremental() -%}
    delete from {{ this }} where {{ config.get('cdp_scope').key }} in {{ _scope_keys() }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- SQL condition: every row on a full build; on an incremental run, rows whose `column` is a key in scope. -#}
{% macro in_scope(column) -%}
    {%- if is_incremental() -%}
    {{ column }} in {{ _scope_keys() }}
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}
