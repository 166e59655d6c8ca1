{#- Salted identifier hashes for privacy requests: sha256(salt | type | value) as hex. The salt (var
    privacy_salt, env CDP_PRIVACY_SALT) keeps a leaked hash from being matched against a list of emails. -#}
{% macro privacy_hash(identifier_type, value_sql) -%}
    {{ privacy_hash_sql("'" ~ identifier_type ~ "'", value_sql) }}
{%- endmacro %}

{#- The same with the identifier type as a SQL expression (a column). -#}
{% macro privacy_hash_sql(type_sql, value_sql) -%}
    {{ adapter.dispatch('privacy_sha256', 'cdp')("'" ~ var('privacy_salt') ~ "|' || " ~ type_sql ~ " || '|' || " ~ value_sql) }}
{%- endmacro %}

{% macro default__privacy_sha256(text_sql) -%}sha256({{ text_sql }}){%- endmacro %}
{% macro spark__privacy_sha256(text_sql) -%}sha2({{ text_sql }}, 256){%- endmacro %}

{#- Remove the rows of `relation` where `condition` holds (an erasure). Renders the SQL a hook runs. Engines with
    DELETE delete. Spark deletes from Delta or Iceberg tables (var spark_table_format, when the cluster provides
    the format and the models are built in it); its parquet tables cannot DELETE, so they are rewritten without
    the rows through a materialised copy (macros/privacy/parquet_rewrite.sql), and the hook itself is a no-op. -#}
{% macro erase_rows_where(relation, condition) -%}
    {{ adapter.dispatch('erase_rows_where', 'cdp')(relation, condition) }}
{%- endmacro %}

{% macro default__erase_rows_where(relation, condition) -%}
    delete from {{ relation }} where {{ condition }}
{%- endmacro %}

{% macro spark__erase_rows_where(relation, condition) -%}
    {%- if spark_table_format() in ('delta', 'iceberg') -%}
    delete from {{ relation }} where {{ condition }}
    {%- else -%}
    {%- if execute %}{% do parquet_rewrite_without(relation, condition) %}{% endif -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The table format of the Spark models (var spark_table_format): parquet (default), delta or iceberg. -#}
{% macro spark_table_format() -%}
    {%- set fmt = var('spark_table_format', 'parquet') | string | lower -%}
    {%- if fmt not in ('parquet', 'delta', 'iceberg') -%}
        {{ exceptions.raise_compiler_error("var spark_table_format must be parquet, delta or iceberg, not '" ~ fmt ~ "'") }}
    {%- endif -%}
    {{ return(fmt) }}
{%- endmacro %}

{#- on-run-start: finish or undo any table rewrite an earlier run left midway (parquet_rewrite.sql), before
    any model reads a table it may have left empty. Nothing to do where erasure is a DELETE in a transaction. -#}
{% macro recover_interrupted_erasures() -%}
    {{ adapter.dispatch('recover_interrupted_erasures', 'cdp')() }}
{%- endmacro %}

{% macro default__recover_interrupted_erasures() -%}
    select 1
{%- endmacro %}

{% macro spark__recover_interrupted_erasures() -%}
    {%- if execute -%}{%- do parquet_recover_rewrites(target.schema) -%}{%- endif -%}
    select 1
{%- endmacro %}
