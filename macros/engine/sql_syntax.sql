{#- Whether a SQL boolean expression written as data (journey stage and next-best-action conditions) parses,
    asked without running it, so that a typo fails the build naming the rule that holds it rather than as a
    bare database error from the middle of a model. Returns the parser's message, or none when it parses. -#}

{% macro cdp_condition_syntax_error(condition) -%}
    {{ return(adapter.dispatch('cdp_condition_syntax_error', 'cdp')(condition)) }}
{%- endmacro %}

{#- DuckDB's json_serialize_sql parses a statement and returns an error object instead of raising: the full
    parser, nothing executed. The newline keeps a trailing `--` comment from swallowing the parenthesis. -#}
{% macro duckdb__cdp_condition_syntax_error(condition) -%}
    {%- set probe = "select 1 where (" ~ condition ~ "\n)" -%}
    {%- set parsed = fromjson(run_query("select json_serialize_sql(" ~ cdp_string_literal(probe) ~ ")").columns[0].values()[0]) -%}
    {%- if parsed.get('error') -%}
        {{ return(parsed.get('error_message') or 'syntax error') }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- Other engines (Spark) have no parse-only call that reports instead of raising, and a macro cannot catch a
    database error: the common slips are checked here (unclosed quote or parenthesis, a dangling operator);
    anything subtler is the database's own error when the model runs. -#}
{% macro default__cdp_condition_syntax_error(condition) -%}
    {%- set unquoted = modules.re.sub("'([^']|'')*'", " literal ", condition) -%}
    {%- set text = unquoted | trim | lower -%}
    {%- if "'" in unquoted -%}
        {{ return("unterminated quoted string") }}
    {%- endif -%}
    {%- set depth = namespace(value=0, negative=false) -%}
    {%- for char in unquoted -%}
        {%- if char == '(' -%}{%- set depth.value = depth.value + 1 -%}
        {%- elif char == ')' -%}{%- set depth.value = depth.value - 1 -%}
            {%- if depth.value < 0 -%}{%- set depth.negative = true -%}{%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if depth.value != 0 or depth.negative -%}
        {{ return("unbalanced parentheses") }}
    {%- endif -%}
    {%- if not text or modules.re.search("(^|\\s)(and|or|not|in|is|between|like)$|[=<>!+*/,(-]$|^(and|or)(\\s|\\()|^[=<>*/,)]", text) -%}
        {{ return("syntax error at the start or end of the condition") }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
