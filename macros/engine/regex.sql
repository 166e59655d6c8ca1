{#- Engine-specific SQL lives here, behind adapter.dispatch. Models never use engine-only syntax.
    Patterns are passed as plain (RE2/Java compatible) regex strings; each engine renders the literal. -#}

{% macro cdp_string_literal(value) -%}
    {{ return(adapter.dispatch('cdp_string_literal', 'cdp')(value)) }}
{%- endmacro %}

{% macro default__cdp_string_literal(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__cdp_string_literal(value) -%}
    {#- Spark string literals treat backslash as an escape character. -#}
    '{{ value | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

{% macro cdp_regex_matches(expr, pattern) -%}
    {{ return(adapter.dispatch('cdp_regex_matches', 'cdp')(expr, pattern)) }}
{%- endmacro %}

{% macro default__cdp_regex_matches(expr, pattern) -%}
    regexp_like({{ expr }}, {{ cdp_string_literal(pattern) }})
{%- endmacro %}

{% macro duckdb__cdp_regex_matches(expr, pattern) -%}
    regexp_matches({{ expr }}, {{ cdp_string_literal(pattern) }})
{%- endmacro %}

{% macro spark__cdp_regex_matches(expr, pattern) -%}
    ({{ expr }} rlike {{ cdp_string_literal(pattern) }})
{%- endmacro %}

{% macro bigquery__cdp_regex_matches(expr, pattern) -%}
    regexp_contains({{ expr }}, r'{{ pattern }}')
{%- endmacro %}

{% macro cdp_regex_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('cdp_regex_replace_all', 'cdp')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__cdp_regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ cdp_string_literal(pattern) }}, {{ cdp_string_literal(replacement) }})
{%- endmacro %}

{% macro duckdb__cdp_regex_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, {{ cdp_string_literal(pattern) }}, {{ cdp_string_literal(replacement) }}, 'g')
{%- endmacro %}
