{#- Reviewers' identity decisions arrive as the optional raw file identity_decisions.csv (var
    identity_decisions_source: its name and header). Registered on-run-start as relation raw.identity_decisions
    beside the registry's sources, with the header and no rows when the file is absent, so a project without
    decisions builds the same way. Every column is read as text; int_identity_decisions types and checks them. -#}
{% macro identity_decisions_columns() -%}
    {{ return(var('identity_decisions_source').raw_columns) }}
{%- endmacro %}

{% macro register_identity_decisions() -%}
    {%- if execute -%}
        {{ return(adapter.dispatch('register_identity_decisions', 'cdp')(env_var('CDP_RAW_DIR', 'sample_data'))) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__register_identity_decisions(raw_dir) -%}
    select 1
{%- endmacro %}

{% macro duckdb__register_identity_decisions(raw_dir) -%}
    {%- set name = var('identity_decisions_source').source_name -%}
    {%- set found = run_query("select count(*) from glob('" ~ raw_dir ~ "/" ~ name ~ ".csv')") -%}
    create schema if not exists raw;
    create or replace view raw.{{ name }} as
    {% if found.columns[0].values()[0] == 0 -%}
    select {% for c in identity_decisions_columns() %}cast(null as varchar) as {{ c }}{{ ', ' if not loop.last }}{% endfor %} where false;
    {%- else -%}
    select {% for c in identity_decisions_columns() %}{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    from read_csv('{{ raw_dir }}/{{ name }}.csv', header = true, all_varchar = true, delim = ',', quote = '"',
                  escape = '"', null_padding = true, union_by_name = true);
    {%- endif %}
{%- endmacro %}

{% macro spark__register_identity_decisions(raw_dir) -%}
    {%- set name = var('identity_decisions_source').source_name -%}
    {% do run_query("create schema if not exists raw") %}
    {% do run_query("drop table if exists raw." ~ name) %}
    {% do run_query("create table raw." ~ name ~ " (" ~ (identity_decisions_columns() | join(' string, ')) ~ " string)"
                    ~ " using csv options (path '" ~ raw_dir ~ "', pathGlobFilter '" ~ name ~ ".csv', header 'true',"
                    ~ " quote '\"', escape '\"', multiLine 'true', mode 'PERMISSIVE')") %}
    select 1
{%- endmacro %}
