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
