{#- The timestamp horizon: the instants a raw timestamp may name. One row dated 9999-12-31 would otherwise
    move the as-of instant (the latest staged event) for everybody, and one dated 1066 every "first seen"
    and the prediction models' calibration period. var timestamp_horizon: `earliest` (an ISO date, default
    1900-01-01) and `days_after_load` (default 1: no later than a day after this run started, which is when
    the rows are loaded). A parsed timestamp outside it is not used: base models quarantine the row with
    reason out_of_range_<column>, and the as-of instant and every baseline read staged rows only.
    Incremental staging re-stages such rows on every run (macros/normalise/incremental_staging.sql), so a
    row that was ahead of its load stages once the load catches up, as a full build would. -#}
{% macro timestamp_horizon() -%}
    {%- set horizon = var('timestamp_horizon', {}) -%}
    {%- set earliest = modules.datetime.datetime.strptime(horizon.get('earliest', '1900-01-01') | string, '%Y-%m-%d') -%}
    {%- set latest = run_started_at.replace(tzinfo=none)
                     + modules.datetime.timedelta(days=horizon.get('days_after_load', 1) | float) -%}
    {{ return({'earliest': earliest.strftime('%Y-%m-%d %H:%M:%S'), 'latest': latest.strftime('%Y-%m-%d %H:%M:%S')}) }}
{%- endmacro %}

{#- SQL condition: the parsed timestamp column lies outside the horizon (null is not: it is unparseable or
    blank, which other checks decide). -#}
{% macro is_out_of_horizon(column) -%}
    {%- set horizon = timestamp_horizon() -%}
    ({{ column }} < cast('{{ horizon.earliest }}' as {{ cdp_type_timestamp() }})
     or {{ column }} > cast('{{ horizon.latest }}' as {{ cdp_type_timestamp() }}))
{%- endmacro %}

{#- The quarantine reasons of the horizon: a row with one is staged again on every incremental run. -#}
{% macro out_of_horizon_reason_prefix() -%}out_of_range_{%- endmacro %}
