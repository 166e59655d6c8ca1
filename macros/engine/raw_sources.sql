{#- Register the raw sources (folder CDP_RAW_DIR, docs/raw_sources.md) as relations in schema `raw`, so that
    sources are ordinary relations on every engine. Runs on-run-start. Each source of the registry (var
    raw_sources) takes one of three forms:
    - a file <source_name>.csv: a view over the file;
    - a landing folder <source_name>/ of deliveries (*.csv, *.parquet): a view over the deliveries read so
      far (macros/engine/raw_landing.sql keeps the ledger raw.raw_deliveries);
    - a warehouse relation (registry key `relation: schema.table`, data a loader keeps): a view over it.
    Raw data is never copied into the warehouse (an erased person's raw rows must not rest in it); views
    read the files. Every column is read as text; short rows are padded with nulls and then quarantined
    for what they lack. Lines the CSV reader cannot split (more fields than the header, a line over the
    reader's maximum size, bytes that are not UTF-8) are skipped by the views and recorded, by file and line
    number without their content, in raw.raw_rejects, which the quarantine reads. A file whose header
    lacks a registry column or names one twice, or a required source with no data, stops the run with one
    line naming the file: everything is decided by reading before anything is written, and the writes run
    in one transaction, so a failed registration leaves the previous one whole. View raw.raw_file_modified
    (DuckDB) holds each source's latest file modification time, which source freshness reads. -#}
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

{#- A string as a SQL literal. -#}
{% macro cdp_sql_literal(text) -%}
    '{{ text | string | replace("'", "''") }}'
{%- endmacro %}

{#- The reader options every scan of a raw CSV shares, so that the views skip exactly the lines the
    registration's scan recorded as rejected. The header's own column order (the file's) names the columns;
    nothing is sniffed, so no sample decides a dialect and no line is printed. -#}
{% macro duckdb_raw_csv_options(header) -%}
    header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', null_padding = true,
    parallel = false, columns = { {%- for c in header %}{{ cdp_sql_literal(c) }}: 'VARCHAR'{{ ', ' if not loop.last }}{% endfor -%} }
{%- endmacro %}

{#- The header of a raw CSV, as the column names in the file's order (a byte-order mark is dropped). -#}
{% macro duckdb_raw_csv_header(path) -%}
    {%- set first = run_query("select line from read_csv(" ~ cdp_sql_literal(path) ~ ", header = false, "
                              ~ "auto_detect = false, columns = {'line': 'VARCHAR'}, delim = chr(31), quote = '', "
                              ~ "escape = '', ignore_errors = true, strict_mode = false, max_line_size = 100000000) limit 1") -%}
    {%- set names = [] -%}
    {%- for name in (first.columns[0].values()[0] or '').split(',') -%}
        {%- do names.append(name.strip().strip('"').strip()) -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- The header checked against the source's registry columns: a missing or repeated column stops the run. -#}
{% macro check_raw_header(label, header, raw_columns) -%}
    {%- set missing = [] -%}
    {%- for c in raw_columns if c not in header %}{% do missing.append(c) %}{% endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(label ~ ": the header lacks column(s) " ~ missing | join(', ')
                                           ~ " (docs/raw_sources.md)") }}
    {%- endif -%}
    {%- for c in header -%}
        {%- if header.count(c) > 1 -%}
            {{ exceptions.raise_compiler_error(label ~ ": the header names column '" ~ c ~ "' more than once") }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- The registry columns, as text, from a scan aliased `raw_scan`. -#}
{% macro raw_columns_as_text(raw_columns) -%}
    {%- for c in raw_columns %}cast(raw_scan."{{ c }}" as varchar) as "{{ c }}"{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{% macro duckdb__register_raw_sources(raw_dir) -%}
    {%- do run_query(duckdb_raw_ledger_ddl()) -%}
    {%- set statements = [] -%}
    {%- set modified = [] -%}
    {%- for s in var('raw_sources') -%}
        {%- set name = s.source_name -%}
        {%- if s.get('relation') -%}
            {#- a loader's relation has no files: nothing read from files before counts for it -#}
            {%- do statements.append("delete from raw.raw_rejects where source_name = " ~ cdp_sql_literal(name)) -%}
            {%- do statements.append("delete from raw.raw_deliveries where source_name = " ~ cdp_sql_literal(name)) -%}
            {%- do statements.append("create or replace view raw." ~ name ~ " as select " ~ raw_columns_as_text(s.raw_columns)
                                     ~ " from " ~ s.relation ~ " as raw_scan") -%}
        {%- else -%}
            {%- set single = raw_dir ~ '/' ~ name ~ '.csv' -%}
            {%- set has_file = run_query("select count(*) from glob(" ~ cdp_sql_literal(single) ~ ")").columns[0].values()[0] > 0 -%}
            {%- set deliveries = duckdb_landing_files(raw_dir, name) -%}
            {%- if has_file and deliveries -%}
                {{ exceptions.raise_compiler_error(name ~ ": both " ~ name ~ ".csv and the landing folder " ~ name
                                                   ~ "/ are in CDP_RAW_DIR; keep one") }}
            {%- elif deliveries -%}
                {%- do statements.extend(duckdb_landing_statements(raw_dir, s, deliveries)) -%}
                {%- do modified.append("select " ~ cdp_sql_literal(name) ~ " as source_name, max(modified_at) as modified_at "
                                       ~ "from raw.raw_deliveries where source_name = " ~ cdp_sql_literal(name)) -%}
            {%- elif has_file -%}
                {%- do statements.extend(duckdb_single_file_statements(raw_dir, s)) -%}
                {%- do modified.append("select " ~ cdp_sql_literal(name) ~ " as source_name, cast(last_modified as timestamp) "
                                       ~ "as modified_at from read_blob(" ~ cdp_sql_literal(single) ~ ")") -%}
            {%- elif s.get('optional') -%}
                {#- an optional file not delivered (privacy_requests): its header, no rows -#}
                {%- do statements.append("delete from raw.raw_rejects where source_name = " ~ cdp_sql_literal(name)) -%}
                {%- do statements.append("delete from raw.raw_deliveries where source_name = " ~ cdp_sql_literal(name)) -%}
                {%- do statements.append("create or replace view raw." ~ name ~ " as select " ~ raw_null_row(s.raw_columns)
                                         ~ " where false") -%}
            {%- else -%}
                {{ exceptions.raise_compiler_error(name ~ ": no " ~ name ~ ".csv and no deliveries in " ~ name
                                                   ~ "/ in CDP_RAW_DIR (" ~ raw_dir ~ "; docs/raw_sources.md)") }}
            {%- endif -%}
        {%- endif -%}
    {%- endfor %}
    begin transaction;
    {% for statement in statements -%}
    {{ statement }};
    {% endfor -%}
    {#- when each source's files were last written (only the files' metadata is read): source freshness -#}
    create or replace view raw.raw_file_modified as
    {% for select in modified -%}
    {{ select }}
    {% if not loop.last %}union all{% endif %}
    {% else -%}
    select cast(null as varchar) as source_name, cast(null as timestamp) as modified_at where false
    {%- endfor %};
    commit;
    drop table if exists cdp_raw_reject_lines;
    drop table if exists cdp_raw_reject_scans;
{%- endmacro %}

{#- One row of nulls named after the columns (the empty relation of an optional source not delivered). -#}
{% macro raw_null_row(raw_columns) -%}
    {%- for c in raw_columns %}cast(null as varchar) as "{{ c }}"{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{#- A single file: a view over it, and its rejected lines recorded again when the file changed since the
    last scan (size or modification time), so an unchanged file is read once per run, by the models. -#}
{% macro duckdb_single_file_statements(raw_dir, s) -%}
    {%- set name = s.source_name -%}
    {%- set path = raw_dir ~ '/' ~ name ~ '.csv' -%}
    {%- set header = duckdb_raw_csv_header(path) -%}
    {%- do check_raw_header(name ~ '.csv', header, s.raw_columns) -%}
    {%- set options = duckdb_raw_csv_options(header) -%}
    {%- set statements = ["create or replace view raw." ~ name ~ " as select " ~ raw_columns_as_text(s.raw_columns)
                          ~ " from read_csv(" ~ cdp_sql_literal(path) ~ ", " ~ options ~ ", ignore_errors = true) as raw_scan"] -%}
    {%- set unchanged = run_query("select count(*) from raw.raw_deliveries as d, read_blob(" ~ cdp_sql_literal(path) ~ ") as f "
                                  ~ "where d.source_name = " ~ cdp_sql_literal(name) ~ " and d.file_name = "
                                  ~ cdp_sql_literal(name ~ '.csv') ~ " and d.file_size = f.size and d.modified_at = "
                                  ~ "cast(f.last_modified as timestamp) and d.header = " ~ cdp_sql_literal(header | join(','))).columns[0].values()[0] -%}
    {%- if not unchanged -%}
        {%- do statements.append("delete from raw.raw_deliveries where source_name = " ~ cdp_sql_literal(name)) -%}
        {%- do statements.append("delete from raw.raw_rejects where source_name = " ~ cdp_sql_literal(name)) -%}
        {%- do statements.extend(duckdb_scan_file_statements(name, name ~ '.csv', path, header, 'file', none)) -%}
    {%- endif -%}
    {{ return(statements) }}
{%- endmacro %}

{#- Scan one CSV once: its rows counted and recorded in the ledger, its rejected lines (file and line number,
    never the line) in raw.raw_rejects. -#}
{% macro duckdb_scan_file_statements(source_name, file_name, path, header, status, content_hash) -%}
    {%- set options = duckdb_raw_csv_options(header) -%}
    {{ return([
        "insert into raw.raw_deliveries select " ~ cdp_sql_literal(source_name) ~ ", " ~ cdp_sql_literal(file_name)
        ~ ", f.size, cast(f.last_modified as timestamp), " ~ (cdp_sql_literal(content_hash) if content_hash else 'null')
        ~ ", " ~ cdp_sql_literal(status) ~ ", " ~ cdp_sql_literal(header | join(','))
        ~ ", (select count(*) from read_csv(" ~ cdp_sql_literal(path) ~ ", " ~ options
        ~ ", store_rejects = true, rejects_table = 'cdp_raw_reject_lines', rejects_scan = 'cdp_raw_reject_scans'))"
        ~ ", current_timestamp from read_blob(" ~ cdp_sql_literal(path) ~ ") as f",
        "insert into raw.raw_rejects select " ~ cdp_sql_literal(source_name) ~ ", " ~ cdp_sql_literal(file_name)
        ~ ", lines.line, min(lines.error_type) from cdp_raw_reject_lines as lines inner join cdp_raw_reject_scans as scans"
        ~ " on scans.scan_id = lines.scan_id and scans.file_id = lines.file_id where scans.file_path = "
        ~ cdp_sql_literal(path) ~ " group by lines.line",
    ]) }}
{%- endmacro %}

{#- The ledger of what registration read: raw.raw_deliveries (one row per file read: its size, modification
    time, content hash for deliveries, status, header and rows) and raw.raw_rejects (lines the reader
    rejected). Neither holds raw values. -#}
{% macro duckdb_raw_ledger_ddl() -%}
    create schema if not exists raw;
    create table if not exists raw.raw_deliveries (source_name varchar, file_name varchar, file_size bigint,
        modified_at timestamp, content_hash varchar, status varchar, header varchar, rows_read bigint,
        registered_at timestamp);
    create table if not exists raw.raw_rejects (source_name varchar, file_name varchar, line bigint,
        error_type varchar)
{%- endmacro %}

{% macro spark__register_raw_sources(raw_dir) -%}
    {% do run_query("create schema if not exists raw") %}
    {% do run_query("create table if not exists raw.raw_rejects (source_name string, file_name string, line bigint, error_type string) using parquet") %}
    {% for s in var('raw_sources') -%}
    {%- set name = s.source_name -%}
    {% do run_query("drop table if exists raw." ~ name) %}
    {% do run_query("drop view if exists raw." ~ name) %}
    {% if s.get('relation') -%}
    {%- set columns -%}
        {%- for c in s.raw_columns %}cast(`{{ c }}` as string) as `{{ c }}`{{ ', ' if not loop.last }}{% endfor -%}
    {%- endset %}
    {% do run_query("create view raw." ~ name ~ " as select " ~ columns ~ " from " ~ s.relation) %}
    {%- elif s.get('optional') -%}
    {#- the file may be absent: the folder filtered to its name, with the contract's columns (empty if absent) -#}
    {% do run_query("create table raw." ~ name ~ " (" ~ (s.raw_columns | join(' string, ')) ~ " string)"
                    ~ " using csv options (path '" ~ raw_dir ~ "', pathGlobFilter '" ~ name ~ ".csv', header 'true',"
                    ~ " quote '\"', escape '\"', multiLine 'true', mode 'PERMISSIVE')") %}
    {%- else -%}
    {% do run_query("create table raw." ~ name ~ " using csv options (path '" ~ raw_dir ~ "/" ~ name
                    ~ ".csv', header 'true', quote '\"', escape '\"', multiLine 'true', mode 'PERMISSIVE')") %}
    {%- endif %}
    {% endfor %}
    select 1
{%- endmacro %}
