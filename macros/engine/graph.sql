{#- Connected components: apply a round's label changes (delta: node, label) to the labels table. DuckDB updates
    the changed rows in place; engines whose tables cannot UPDATE (Spark over parquet) rewrite the table through
    scratch and swap it in. -#}
{% macro cdp_apply_label_changes(labels, delta, scratch) -%}
    {{ return(adapter.dispatch('cdp_apply_label_changes', 'cdp')(labels, delta, scratch)) }}
{%- endmacro %}

{% macro default__cdp_apply_label_changes(labels, delta, scratch) -%}
    {% call statement('cc_apply_changes') -%}
        update {{ labels }} as l set label = d.label
        from {{ delta }} as d
        where l.node = d.node
    {%- endcall %}
{%- endmacro %}

{% macro spark__cdp_apply_label_changes(labels, delta, scratch) -%}
    {% do adapter.drop_relation(scratch) %}
    {% call statement('cc_apply_changes') -%}
        {{ create_table_as(False, scratch, "
            select l.node, coalesce(d.label, l.label) as label
            from " ~ labels ~ " as l
            left join " ~ delta ~ " as d on d.node = l.node
        ") }}
    {%- endcall %}
    {% do adapter.drop_relation(labels) %}
    {% do adapter.rename_relation(scratch, labels) %}
{%- endmacro %}
