{#- ORDER BY for one attribute's survivorship rule (var survivorship). Row 1 survives. Columns available:
    source_name, observed_at, value, value_count (records of the person carrying the value). -#}
{% macro survivorship_order_by(rule, sources) -%}
    {%- set source_rank -%}
        case source_name
        {%- for s in sources %} when '{{ s }}' then {{ loop.index }}{% endfor %}
        else {{ sources | length + 1 }} end
    {%- endset -%}
    {%- if rule == 'source_priority' -%}
        {{ source_rank }}, observed_at desc, value
    {%- elif rule == 'most_recent' -%}
        observed_at desc, {{ source_rank }}, value
    {%- elif rule == 'most_frequent' -%}
        value_count desc, observed_at desc, {{ source_rank }}, value
    {%- elif rule == 'first_non_null' -%}
        observed_at asc, {{ source_rank }}, value
    {%- else -%}
        {{ exceptions.raise_compiler_error("survivorship: unknown rule '" ~ rule ~ "' (use source_priority, most_recent, most_frequent or first_non_null)") }}
    {%- endif -%}
{%- endmacro %}
