{#- Blank strings become null; every other value is trimmed. -#}
{% macro clean_text(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}

{#- true/false in any case; anything else (blank included) is unknown (null). -#}
{% macro parse_boolean(expr) -%}
    case lower(trim({{ expr }})) when 'true' then true when 'false' then false end
{%- endmacro %}

{#- True when a non-blank raw value could not be parsed: such a row is quarantined with a reason. -#}
{% macro is_unparseable(raw, parsed) -%}
    ({{ clean_text(raw) }} is not null and {{ parsed }} is null)
{%- endmacro %}

{#- A reason for quarantine, or null: the first failing check wins. checks: list of (condition, reason). -#}
{% macro first_failing_reason(checks) -%}
    case
    {%- for condition, reason in checks %}
        when {{ condition }} then '{{ reason }}'
    {%- endfor %}
    end
{%- endmacro %}
