{#- A model whose table a step outside dbt writes: on Spark the prediction fit and scoring run on the driver
    between two dbt runs of `cdp build` (predict/spark.py), since dbt-spark's session method runs no Python
    models. dbt keeps the node, so refs, lineage and the model's data tests stay as on DuckDB; building it
    checks that the table exists and holds the model's columns (its SQL selects them from itself) and
    rewrites nothing. Without the table the build stops with the command that writes it. -#}
{% materialization cdp_written_by_driver, adapter='spark' %}
    {%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
    {%- if existing is none -%}
        {{ exceptions.raise_compiler_error(this.identifier ~ " is written by the prediction step of `cdp build --target spark` (predict/spark.py: the fit and scoring run on the Spark driver, since dbt-spark's session method runs no Python models), and it does not exist yet: run `cdp build --target spark`.") }}
    {%- endif -%}
    {{ log(this.identifier ~ ": the table the Spark prediction step wrote (predict/spark.py; `cdp build --target spark` refits)", info=True) }}
    {% call statement('main') -%}
        select count(*) as written_rows from ({{ sql }}) as written_by_driver
    {%- endcall %}
    {{ return({'relations': [existing]}) }}
{% endmaterialization %}
