{#- Landing folders (DuckDB): a source as a folder <source_name>/ in CDP_RAW_DIR of delivery files, *.csv
    or *.parquet (every column a string), read in file-name order. Each delivery is read once and recorded
    in the ledger raw.raw_deliveries with its name, size, modification time and content hash (MD5); a file
    with the content of an earlier delivery under another name is recorded as a `repeat` and adds nothing.
    Landing folders are append-only: a delivery whose content changed after it was read, or that vanished,
    stops the run with an error naming it (its size or modification time changing alone, with the same
    content, is accepted). The source's view reads the deliveries with status `read`. -#}

{#- The folder's delivery files now: name (relative to CDP_RAW_DIR), path, format, and how each compares
    with the ledger (new, same, touched: size or modification time differ), in file-name order. -#}
{% macro duckdb_landing_files(raw_dir, name) -%}
    {%- set folder = raw_dir ~ '/' ~ name ~ '/' -%}
    {%- set found = run_query("select file from glob(" ~ cdp_sql_literal(folder ~ '*.csv') ~ ") union all "
                              ~ "select file from glob(" ~ cdp_sql_literal(folder ~ '*.parquet') ~ ")") -%}
    {%- if not found.rows %}{{ return([]) }}{% endif -%}
    {%- set rows = run_query("""
        with files as (
            select filename as path, size, cast(last_modified as timestamp) as modified_at,
                """ ~ cdp_sql_literal(name ~ '/') ~ """ || parse_filename(filename) as file_name
            from read_blob(""" ~ cdp_sql_list(found.columns[0].values()) ~ """)
        )
        select files.file_name, files.path,
            case when files.path like '%.parquet' then 'parquet' else 'csv' end as format,
            case when ledger.file_name is null then 'new'
                 when ledger.file_size = files.size and ledger.modified_at = files.modified_at then 'same'
                 else 'touched' end as state,
            ledger.status, ledger.content_hash, ledger.header
        from files
        left join raw.raw_deliveries as ledger
            on ledger.source_name = """ ~ cdp_sql_literal(name) ~ """ and ledger.file_name = files.file_name
        order by files.file_name""") -%}
    {%- set deliveries = [] -%}
    {%- for r in rows.rows -%}
        {%- do deliveries.append({'file_name': r[0], 'path': r[1], 'format': r[2], 'state': r[3], 'status': r[4],
                                  'content_hash': r[5], 'header': r[6]}) -%}
    {%- endfor -%}
    {{ return(deliveries) }}
{%- endmacro %}

{% macro duckdb_content_hash(path) -%}
    {{ return(run_query("select md5(content) from read_blob(" ~ cdp_sql_literal(path) ~ ")").columns[0].values()[0]) }}
{%- endmacro %}

{#- The statements that record the new deliveries and define the source's view over those read. -#}
{% macro duckdb_landing_statements(raw_dir, s, deliveries) -%}
    {%- set name = s.source_name -%}
    {%- set present = deliveries | map(attribute='file_name') | list -%}
    {%- set ledger = run_query("select file_name, content_hash from raw.raw_deliveries where source_name = "
                               ~ cdp_sql_literal(name) ~ " and status in ('read', 'repeat')") -%}
    {%- set hashes = [] -%}
    {%- for file_name, content_hash in ledger.rows -%}
        {%- if file_name not in present -%}
            {{ exceptions.raise_compiler_error(file_name ~ ": a delivery read before is gone from the landing folder "
                                               ~ "(landing folders are append-only)") }}
        {%- endif -%}
        {%- do hashes.append(content_hash) -%}
    {%- endfor -%}
    {#- a single file the source was before is not one of its deliveries -#}
    {%- set statements = ["delete from raw.raw_deliveries where source_name = " ~ cdp_sql_literal(name)
                          ~ " and status not in ('read', 'repeat')",
                          "delete from raw.raw_rejects where source_name = " ~ cdp_sql_literal(name)
                          ~ " and file_name = " ~ cdp_sql_literal(name ~ '.csv')] -%}
    {%- set read = [] -%}
    {%- for d in deliveries -%}
        {%- if d.state == 'touched' -%}
            {%- if duckdb_content_hash(d.path) != d.content_hash -%}
                {{ exceptions.raise_compiler_error(d.file_name ~ ": the delivery changed after it was read (landing "
                                                   ~ "folders are append-only: deliver the change as a new file)") }}
            {%- endif -%}
            {%- do statements.append("update raw.raw_deliveries set (file_size, modified_at) = (select size, "
                                     ~ "cast(last_modified as timestamp) from read_blob(" ~ cdp_sql_literal(d.path)
                                     ~ ")) where source_name = " ~ cdp_sql_literal(name) ~ " and file_name = "
                                     ~ cdp_sql_literal(d.file_name)) -%}
        {%- endif -%}
        {%- if d.state == 'new' -%}
            {%- set content_hash = duckdb_content_hash(d.path) -%}
            {%- if content_hash in hashes -%}
                {%- do statements.append("insert into raw.raw_deliveries select " ~ cdp_sql_literal(name) ~ ", "
                                         ~ cdp_sql_literal(d.file_name) ~ ", size, cast(last_modified as timestamp), "
                                         ~ cdp_sql_literal(content_hash) ~ ", 'repeat', null, null, current_timestamp "
                                         ~ "from read_blob(" ~ cdp_sql_literal(d.path) ~ ")") -%}
            {%- else -%}
                {%- do hashes.append(content_hash) -%}
                {%- set header = duckdb_delivery_header(d) -%}
                {%- do check_raw_header(d.file_name, header, s.raw_columns) -%}
                {%- do statements.extend(duckdb_delivery_scan_statements(name, d, header, content_hash)) -%}
                {%- do read.append({'path': d.path, 'format': d.format, 'header': header | join(',')}) -%}
            {%- endif -%}
        {%- elif d.status == 'read' -%}
            {%- do read.append({'path': d.path, 'format': d.format, 'header': d.header}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do statements.append("create or replace view raw." ~ name ~ " as " ~ duckdb_landing_view(s, read)) -%}
    {{ return(statements) }}
{%- endmacro %}

{#- A delivery's columns: a CSV's header, a Parquet file's schema. -#}
{% macro duckdb_delivery_header(d) -%}
    {%- if d.format == 'parquet' -%}
        {%- set schema = run_query("select name from parquet_schema(" ~ cdp_sql_literal(d.path) ~ ") where num_children is null") -%}
        {{ return(schema.columns[0].values() | list) }}
    {%- endif -%}
    {{ return(duckdb_raw_csv_header(d.path)) }}
{%- endmacro %}

{% macro duckdb_delivery_scan_statements(name, d, header, content_hash) -%}
    {%- if d.format == 'csv' -%}
        {{ return(duckdb_scan_file_statements(name, d.file_name, d.path, header, 'read', content_hash)) }}
    {%- endif -%}
    {{ return(["insert into raw.raw_deliveries select " ~ cdp_sql_literal(name) ~ ", " ~ cdp_sql_literal(d.file_name)
               ~ ", f.size, cast(f.last_modified as timestamp), " ~ cdp_sql_literal(content_hash) ~ ", 'read', "
               ~ cdp_sql_literal(header | join(',')) ~ ", (select count(*) from read_parquet(" ~ cdp_sql_literal(d.path)
               ~ ")), current_timestamp from read_blob(" ~ cdp_sql_literal(d.path) ~ ") as f"]) }}
{%- endmacro %}

{#- The deliveries read, as one relation of the registry's columns: one scan per CSV header (deliveries of one
    exporter share it) and one of every Parquet delivery, in file-name order. -#}
{% macro duckdb_landing_view(s, read) -%}
    {%- set scans = [] -%}
    {%- for header, group in read | selectattr('format', 'equalto', 'csv') | groupby('header') -%}
        {%- do scans.append("select " ~ raw_columns_as_text(s.raw_columns) ~ " from read_csv("
                            ~ cdp_sql_list(group | map(attribute='path') | list) ~ ", "
                            ~ duckdb_raw_csv_options(header.split(',')) ~ ", ignore_errors = true) as raw_scan") -%}
    {%- endfor -%}
    {%- set parquet = read | selectattr('format', 'equalto', 'parquet') | map(attribute='path') | list -%}
    {%- if parquet -%}
        {%- do scans.append("select " ~ raw_columns_as_text(s.raw_columns) ~ " from read_parquet("
                            ~ cdp_sql_list(parquet) ~ ", union_by_name = true) as raw_scan") -%}
    {%- endif -%}
    {%- if not scans -%}
        {{ return("select " ~ raw_null_row(s.raw_columns) ~ " where false") }}
    {%- endif -%}
    {{ return(scans | join(' union all ')) }}
{%- endmacro %}

{#- Strings as a SQL list literal: ['a', 'b']. -#}
{% macro cdp_sql_list(texts) -%}
    [{%- for t in texts %}{{ cdp_sql_literal(t) }}{{ ', ' if not loop.last }}{% endfor -%}]
{%- endmacro %}
