{#- Point in time. CDP_AS_OF (var as_of, which dbt_project.yml reads from it) names the instant every
    time-dependent model is evaluated at: an ISO date (the end of that day, UTC) or a timestamp (an offset
    is converted to UTC). Raw rows stamped later get the row fate after_as_of and do not stage, so a build as
    of a past instant equals a build of the raw files cut at that instant. Unset: nothing is cut and "now"
    is the latest event in the data. Returns 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) or none. -#}
{% macro cdp_as_of_cut() -%}
    {%- set raw = (var('as_of', none) or '') | string | trim -%}
    {%- if raw | lower in ('', 'none', 'null') -%}{{ return(none) }}{%- endif -%}
    {%- set pattern = '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$' -%}
    {%- if not modules.re.match(pattern, raw) -%}
        {{ exceptions.raise_compiler_error("CDP_AS_OF must be an ISO date or timestamp (2026-03-01 or 2026-03-01T12:30:00Z), got '" ~ raw ~ "'") }}
    {%- endif -%}
    {%- set dt = modules.datetime -%}
    {%- if raw | length == 10 -%}
        {%- set parsed = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time.max) -%}
    {%- else -%}
        {%- set parsed = dt.datetime.fromisoformat(raw.replace('Z', '+00:00')) -%}
        {%- if parsed.tzinfo is not none -%}
            {#- dbt's modules.datetime has no timezone: pytz's utc is the same instant's zone -#}
            {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(parsed.strftime('%Y-%m-%d %H:%M:%S.%f')) }}
{%- endmacro %}

{#- SQL: the as-of instant as a timestamp literal, or null when unset. -#}
{% macro cdp_as_of_literal() -%}
    {%- set cut = cdp_as_of_cut() -%}
    {%- if cut -%}cast('{{ cut }}' as {{ cdp_type_timestamp() }}){%- else -%}cast(null as {{ cdp_type_timestamp() }}){%- endif -%}
{%- endmacro %}

{#- The as-of cut a base row was staged under: an incremental run whose cut differs restages in full. -#}
{% macro staged_as_of() -%}
    {{ cdp_as_of_literal() }}
{%- endmacro %}
