{#- Register the raw CSV files (folder CDP_RAW_DIR, docs/raw_sources.md) as relations in
    schema `raw`, so that sources are ordinary relations on every engine. Runs on-run-start. The files are
    those of the source registry (var raw_sources): <source_name>.csv each. View raw.raw_file_modified
    (DuckDB) holds each file's modification time, which the sources' freshness reads (loaded_at_query).
    Every column is read as text; short rows are padded with nulls and then quarantined for what they
    lack, instead of failing the build. -#}
{% macro raw_source_files() -%}
    {{ return(var('raw_sources') | map(attribute='source_name') | list) }}
{%- endmacro %}

{% macro register_raw_sources() -%}
    {%- if execute -%}
        {{ return(adapter.dispatch('register_raw_sources', 'cdp')(env_var('CDP_RAW_DIR', 'sample_data'))) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__register_raw_sources(raw_dir) -%}
    {{ log("raw sources on " ~ target.type ~ " are expected to exist in schema raw already", info=False) }}
    select 1
{%- endmacro %}

{% macro duckdb__register_raw_sources(raw_dir) -%}
    create schema if not exists raw;
    {%- set absent = optional_raw_sources_absent(raw_dir) %}
    {% for name in raw_source_files() -%}
    create or replace view raw.{{ name }} as
    {% if name in absent -%}
    {#- an optional file not delivered (privacy_requests): its header, no rows -#}
    select {% for c in raw_source(name).raw_columns %}cast(null as varchar) as {{ c }}{{ ', ' if not loop.last }}{% endfor %} where false;
    {%- else -%}
    select * from read_csv('{{ raw_dir }}/{{ name }}.csv', header = true, all_varchar = true, delim = ',',
                           quote = '"', escape = '"', null_padding = true);
    {%- endif %}
    {% endfor %}
    {#- when each raw file was last written (only the file's metadata is read): source freshness -#}
    create or replace view raw.raw_file_modified as
    {% for name in raw_source_files() if name not in absent -%}
    select '{{ name }}' as source_name, cast(last_modified as timestamp) as modified_at
    from read_blob('{{ raw_dir }}/{{ name }}.csv')
    {% if not loop.last %}union all{% endif %}
    {% endfor %};
{%- endmacro %}

{% macro spark__register_raw_sources(raw_dir) -%}
    {% do run_query("create schema if not exists raw") %}
    {% for name in raw_source_files() -%}
    {% do run_query("drop table if exists raw." ~ name) %}
    {% if raw_source(name).get('optional') -%}
    {#- the file may be absent: the folder filtered to its name, with the contract's columns (empty if absent) -#}
    {% do run_query("create table raw." ~ name ~ " (" ~ (raw_source(name).raw_columns | join(' string, ')) ~ " string)"
                    ~ " using csv options (path '" ~ raw_dir ~ "', pathGlobFilter '" ~ name ~ ".csv', header 'true',"
                    ~ " quote '\"', escape '\"', multiLine 'true', mode 'PERMISSIVE')") %}
    {%- else -%}
    {% do run_query("create table raw." ~ name ~ " using csv options (path '" ~ raw_dir ~ "/" ~ name
                    ~ ".csv', header 'true', quote '\"', escape '\"', multiLine 'true', mode 'PERMISSIVE')") %}
    {%- endif %}
    {% endfor %}
    select 1
{%- endmacro %}

{#- Optional sources (registry `optional: true`) whose file is not in the raw folder. -#}
{% macro optional_raw_sources_absent(raw_dir) -%}
    {%- set absent = [] -%}
    {%- for s in var('raw_sources') if s.get('optional') -%}
        {%- set found = run_query("select count(*) from glob('" ~ raw_dir ~ "/" ~ s.source_name ~ ".csv')") -%}
        {%- if found.columns[0].values()[0] == 0 %}{% do absent.append(s.source_name) %}{% endif -%}
    {%- endfor -%}
    {{ return(absent) }}
{%- endmacro %}
