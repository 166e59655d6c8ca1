{#- Aggregates and date arithmetic that differ between engines. -#}

{#- Distinct values joined with a separator, sorted, so the result is deterministic. -#}
{% macro cdp_sorted_string_agg(expr, separator=', ') -%}
    {{ return(adapter.dispatch('cdp_sorted_string_agg', 'cdp')(expr, separator)) }}
{%- endmacro %}

{% macro default__cdp_sorted_string_agg(expr, separator) -%}
    string_agg(distinct {{ expr }}, '{{ separator }}' order by {{ expr }})
{%- endmacro %}

{#- The sorted, comma-separated list of the identity sources (the source registry (var raw_sources)) present in a group:
    the same text as cdp_sorted_string_agg over source names, but with one cheap aggregate per known
    source instead of a sorted distinct aggregate per group. -#}
{% macro cdp_source_list(column) -%}
    {%- set flags = [] -%}
    {%- for name in identifier_sources() | map(attribute='source_name') | unique | sort -%}
        {%- do flags.append("max(case when " ~ column ~ " = '" ~ name ~ "' then '" ~ name ~ "' end)") -%}
    {%- endfor -%}
    {{ adapter.dispatch('cdp_concat_nonnull', 'cdp')(flags, ',') }}
{%- endmacro %}

{% macro default__cdp_concat_nonnull(exprs, separator) -%}
    concat_ws('{{ separator }}', {{ exprs | join(', ') }})
{%- endmacro %}

{% macro snowflake__cdp_concat_nonnull(exprs, separator) -%}
    array_to_string(array_construct_compact({{ exprs | join(', ') }}), '{{ separator }}')
{%- endmacro %}

{% macro bigquery__cdp_concat_nonnull(exprs, separator) -%}
    array_to_string([{{ exprs | join(', ') }}], '{{ separator }}')
{%- endmacro %}

{% macro spark__cdp_sorted_string_agg(expr, separator) -%}
    array_join(array_sort(collect_set({{ expr }})), '{{ separator }}')
{%- endmacro %}

{% macro snowflake__cdp_sorted_string_agg(expr, separator) -%}
    listagg(distinct {{ expr }}, '{{ separator }}') within group (order by {{ expr }})
{%- endmacro %}

{% macro bigquery__cdp_sorted_string_agg(expr, separator) -%}
    string_agg(distinct {{ expr }}, '{{ separator }}' order by {{ expr }})
{%- endmacro %}

{#- Whole days from `start` to `end` (timestamps). -#}
{% macro cdp_days_between(start, end) -%}
    {{ return(adapter.dispatch('cdp_days_between', 'cdp')(start, end)) }}
{%- endmacro %}

{% macro default__cdp_days_between(start, end) -%}
    datediff('day', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__cdp_days_between(start, end) -%}
    datediff(cast({{ end }} as date), cast({{ start }} as date))
{%- endmacro %}

{% macro bigquery__cdp_days_between(start, end) -%}
    date_diff(date({{ end }}), date({{ start }}), day)
{%- endmacro %}

{% macro cdp_add_days(ts, days) -%}
    {{ return(adapter.dispatch('cdp_add_days', 'cdp')(ts, days)) }}
{%- endmacro %}

{% macro default__cdp_add_days(ts, days) -%}
    ({{ ts }} + interval ({{ days }}) day)
{%- endmacro %}

{% macro spark__cdp_add_days(ts, days) -%}
    ({{ ts }} + make_interval(0, 0, 0, {{ days }}))
{%- endmacro %}

{% macro cdp_minutes_between(start, end) -%}
    {{ return(adapter.dispatch('cdp_minutes_between', 'cdp')(start, end)) }}
{%- endmacro %}

{% macro default__cdp_minutes_between(start, end) -%}
    datediff('minute', {{ start }}, {{ end }})
{%- endmacro %}

{% macro spark__cdp_minutes_between(start, end) -%}
    ((unix_timestamp({{ end }}) - unix_timestamp({{ start }})) / 60)
{%- endmacro %}
