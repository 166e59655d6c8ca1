{#- Journey stage and next-best-action rules (vars journey_stages, next_best_actions; docs/profiles-segments-journeys.md) are
    data: these macros turn an ordered rule list into one first-match-wins CASE, check that each condition
    parses and names only known columns (either failing the build with the rule's name, not a bare database
    error), and warn after the build about rules that matched nobody and persons no stage rule matched. -#}

{#- Unknown column names in `condition` (string literals and function names excepted), sorted. -#}
{% macro cdp_rule_unknown_columns(condition, known_columns) -%}
    {%- set words = ['and', 'or', 'not', 'is', 'null', 'in', 'between', 'like', 'ilike', 'case', 'when', 'then',
                     'else', 'end', 'true', 'false', 'interval', 'as', 'day', 'days', 'distinct', 'double',
                     'bigint', 'int', 'integer', 'varchar', 'string', 'date', 'timestamp', 'decimal'] -%}
    {%- set unquoted = modules.re.sub("'([^']|'')*'", " ", condition) -%}
    {%- set known = known_columns | map('lower') | list -%}
    {%- set unknown = [] -%}
    {%- for match in modules.re.finditer("(?<![0-9.])\\b([A-Za-z_][A-Za-z0-9_]*)\\b(\\s*\\()?", unquoted) -%}
        {%- set word = match.group(1) | lower -%}
        {%- if not match.group(2) and word not in words and word not in known and word not in unknown -%}
            {%- do unknown.append(word) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(unknown | sort) }}
{%- endmacro %}

{#- Fail the build naming the first rule of `var_name` with a bad shape, a condition that does not parse
    (macros/engine/sql_syntax.sql) or a column not in `known_columns`.
    Run at execution time only (column lists come from the built upstream relations). -#}
{% macro cdp_check_rules(var_name, known_columns) -%}
    {%- set names = [] -%}
    {%- for rule in var(var_name) -%}
        {%- if not rule.name or not rule.condition -%}
            {{ exceptions.raise_compiler_error("vars." ~ var_name ~ " rule #" ~ loop.index ~ " needs a name and a condition") }}
        {%- endif -%}
        {%- if rule.name in names or rule.name in ('unclassified', 'none') -%}
            {{ exceptions.raise_compiler_error("vars." ~ var_name ~ " rule '" ~ rule.name ~ "': the name is repeated or reserved") }}
        {%- endif -%}
        {%- do names.append(rule.name) -%}
        {%- set syntax_error = cdp_condition_syntax_error(rule.condition) -%}
        {%- if syntax_error -%}
            {{ exceptions.raise_compiler_error("vars." ~ var_name ~ " rule '" ~ rule.name ~ "': its condition does not compile, " ~ syntax_error) }}
        {%- endif -%}
        {%- set unknown = cdp_rule_unknown_columns(rule.condition, known_columns) -%}
        {%- if unknown -%}
            {{ exceptions.raise_compiler_error("vars." ~ var_name ~ " rule '" ~ rule.name ~ "': its condition does not compile, unknown column(s) " ~ (unknown | join(', '))) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{#- First match wins: the CASE over the ordered rules of `var_name`, `default` when none holds. -#}
{% macro cdp_first_matching_rule(var_name, field, default) -%}
    case
    {%- for rule in var(var_name) %}
        when ({{ rule.condition }}) then {{ cdp_string_literal(rule[field]) }}
    {%- endfor %}
        else {{ cdp_string_literal(default) }}
    end
{%- endmacro %}

{#- Post-hook of customer_profiles: a warning naming each stage rule that matched nobody, and the number of
    unclassified persons. A rule that never matches is a warning, not an error: on a small or early as-of
    data set nobody may be won back yet, and the build must still deliver the other stages. -#}
{% macro cdp_warn_journey_coverage(relation) -%}
    {%- if execute -%}
        {%- set counts = {} -%}
        {%- for row in run_query("select journey_stage, count(*) from " ~ relation ~ " group by journey_stage") -%}
            {%- do counts.update({row[0]: row[1]}) -%}
        {%- endfor -%}
        {%- set empty = [] -%}
        {%- for rule in var('journey_stages') if not counts.get(rule.name) -%}
            {%- do empty.append(rule.name) -%}
        {%- endfor -%}
        {%- if empty -%}
            {%- do exceptions.warn("journey stage rule(s) matched nobody: " ~ (empty | join(', '))) -%}
        {%- endif -%}
        {%- if counts.get('unclassified') -%}
            {%- do exceptions.warn(counts['unclassified'] ~ " person(s) matched no journey stage rule: unclassified") -%}
        {%- endif -%}
    {%- endif -%}
    select 1
{%- endmacro %}
