{#- Erasure on Spark's parquet tables, which cannot DELETE: the table is rewritten without the erased rows.
    Spark refuses to overwrite a table it reads in the same statement, and its `insert overwrite` removes the
    table's files before it writes the new ones, so a run killed during the overwrite would leave the table
    empty or partial. Hence four steps, each safe to be interrupted:

    1. copy: `<table>__erasure_copy` (a parquet table) gets every row the erasure keeps, and its row count is
       checked against the table's;
    2. mark: a table property on the copy says it is complete (one metastore update);
    3. overwrite: `insert overwrite` of the table from the copy;
    4. drop the copy.

    Killed before 2, the table is untouched (it still holds the erased rows until the rerun erases them) and
    the unmarked copy is dropped. Killed after 2, the table may be empty or partial: the next run's on-run-start
    (recover_interrupted_erasures) overwrites it from the marked copy, which holds no erased row, before any
    model reads it, then drops the copy. Either way nothing is lost and no erased row survives the rerun.
    Dropping a managed table deletes its files, and `insert overwrite` deletes the table's old files: no
    parquet file of the warehouse keeps an erased value. -#}

{% macro parquet_erasure_copy(relation) -%}
    {{ return(api.Relation.create(database=relation.database, schema=relation.schema,
                                  identifier=relation.identifier ~ '__erasure_copy', type='table')) }}
{%- endmacro %}

{% macro _parquet_count(sql) -%}
    {{ return(run_query('select count(*) from ' ~ sql).columns[0].values()[0] | int) }}
{%- endmacro %}

{#- True when the copy's property says step 2 was reached. -#}
{% macro _parquet_copy_complete(copy) -%}
    {%- set props = run_query("show tblproperties " ~ copy ~ " ('cdp_erasure_copy_complete')") -%}
    {{ return(props.rows | length > 0 and props.rows[0][1] == 'true') }}
{%- endmacro %}

{% macro _parquet_table_exists(schema, identifier) -%}
    {%- set found = run_query("show tables in " ~ schema ~ " like '" ~ identifier ~ "'") -%}
    {{ return(found.rows | length > 0) }}
{%- endmacro %}

{#- Rewrite `relation` without the rows where `condition` holds (nothing to do when there are none). -#}
{% macro parquet_rewrite_without(relation, condition) -%}
    {%- set erased = _parquet_count(relation ~ ' where ' ~ condition) -%}
    {%- if erased == 0 %}{{ return(none) }}{% endif -%}
    {%- set copy = parquet_erasure_copy(relation) -%}
    {%- if _parquet_table_exists(copy.schema, copy.identifier) -%}
        {%- if _parquet_copy_complete(copy) -%}
            {{ exceptions.raise_compiler_error(relation.identifier ~ ": an interrupted erasure left its complete copy "
                ~ copy.identifier ~ ", which on-run-start restores (dbt run-operation recover_interrupted_erasures)") }}
        {%- endif -%}
        {%- do run_query('drop table ' ~ copy) -%}
    {%- endif -%}
    {%- set total = _parquet_count(relation) -%}
    {%- do run_query('create table ' ~ copy ~ ' using parquet as select * from ' ~ relation
                     ~ ' where not coalesce(' ~ condition ~ ', false)') -%}
    {%- set kept = _parquet_count(copy) -%}
    {%- if kept != total - erased -%}
        {%- do run_query('drop table ' ~ copy) -%}
        {{ exceptions.raise_compiler_error(relation.identifier ~ ": the erasure copy holds " ~ kept ~ " rows, expected "
                                           ~ (total - erased) ~ "; the table was left as it was") }}
    {%- endif -%}
    {%- do run_query("alter table " ~ copy ~ " set tblproperties ('cdp_erasure_copy_complete' = 'true')") -%}
    {%- if var('erasure_interrupt_after_copy', none) == relation.identifier -%}
        {#- tests only: the state of a run killed during the overwrite (old files gone, new ones not written) -#}
        {%- do run_query('insert overwrite table ' ~ relation ~ ' select * from ' ~ copy ~ ' where 1 = 0') -%}
        {{ exceptions.raise_compiler_error(relation.identifier ~ ": erasure interrupted after the copy (var erasure_interrupt_after_copy)") }}
    {%- endif -%}
    {%- do run_query('insert overwrite table ' ~ relation ~ ' select * from ' ~ copy) -%}
    {%- do run_query('drop table ' ~ copy) -%}
    {{ log('erasure: ' ~ relation.identifier ~ ' rewritten without ' ~ erased ~ ' row(s)', info=True) }}
{%- endmacro %}

{#- on-run-start: each erasure copy left by an interrupted run is restored into its table when complete (the
    table may be empty or partial), and dropped. -#}
{% macro parquet_recover_rewrites(schema) -%}
    {%- set schemas = run_query('show schemas').columns[0].values() | map('lower') | list -%}
    {%- if schema | lower not in schemas %}{{ return(none) }}{% endif -%}
    {%- for row in run_query("show tables in " ~ schema ~ " like '*__erasure_copy'").rows -%}
        {%- set copy = api.Relation.create(schema=schema, identifier=row[1], type='table') -%}
        {%- set table = api.Relation.create(schema=schema, identifier=row[1][:-('__erasure_copy' | length)], type='table') -%}
        {%- if _parquet_copy_complete(copy) -%}
            {%- if _parquet_table_exists(schema, table.identifier) -%}
                {%- do run_query('insert overwrite table ' ~ table ~ ' select * from ' ~ copy) -%}
            {%- else -%}
                {%- do run_query('create table ' ~ table ~ ' using parquet as select * from ' ~ copy) -%}
            {%- endif -%}
            {{ log('erasure: ' ~ table.identifier ~ ' restored from the copy an interrupted erasure left', info=True) }}
        {%- endif -%}
        {%- do run_query('drop table ' ~ copy) -%}
    {%- endfor -%}
{%- endmacro %}
