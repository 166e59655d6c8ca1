{#- Segments (var segments) are pasted into SQL: a name as a string literal, a condition as the WHERE clause
    of segment_memberships. So before either is rendered, each is checked as the journey rules are
    (macros/journeys/journey_rules.sql), and more strictly, since a condition is the only text of a model that
    comes from configuration: a name is an identifier; a condition is one expression (no ';', no comment, no
    ')' that closes what it did not open, no statement keyword, no quoted identifier), parses, and names only
    `known_columns` (none before the first build: the structural checks still run). `cdp build` and `cdp run`
    make the same checks before dbt starts, with file:line:col (cdp/segment_rules.py). -#}
{% macro cdp_check_segments(known_columns=[]) -%}
    {%- set statement_words = ['select', 'from', 'with', 'union', 'intersect', 'except', 'drop', 'create', 'alter',
        'insert', 'update', 'delete', 'merge', 'attach', 'detach', 'copy', 'pragma', 'call', 'install', 'load',
        'set', 'reset', 'export', 'import', 'truncate', 'grant', 'revoke', 'vacuum', 'checkpoint', 'execute',
        'prepare', 'deallocate', 'into', 'table', 'view', 'schema', 'database', 'returning', 'exists', 'limit',
        'offset', 'order', 'group', 'having', 'window', 'qualify', 'values'] -%}
    {%- for segment in var('segments') -%}
        {%- set where = "vars.segments #" ~ loop.index -%}
        {%- if not segment.name or not modules.re.match('^[a-z][a-z0-9_]{0,62}$', segment.name | string) -%}
            {{ exceptions.raise_compiler_error(where ~ ": the name must be an identifier (a-z, 0-9, _; starting with a letter)") }}
        {%- endif -%}
        {%- set text = modules.re.sub("'([^']|'')*'", " ", (segment.condition or '') | string) -%}
        {%- set problem = namespace(why=none, depth=0) -%}
        {%- for token in [';', '--', '/*', '"', "'"] if problem.why is none and token in text -%}
            {%- set problem.why = "'" ~ token ~ "' is not allowed (one expression only)" -%}
        {%- endfor -%}
        {%- for char in text if problem.why is none -%}
            {%- set problem.depth = problem.depth + (1 if char == '(' else (-1 if char == ')' else 0)) -%}
            {%- if problem.depth < 0 -%}{%- set problem.why = "')' closes a parenthesis the condition did not open" -%}{%- endif -%}
        {%- endfor -%}
        {%- for word in modules.re.findall('[A-Za-z_][A-Za-z0-9_]*', text) if problem.why is none and word | lower in statement_words -%}
            {%- set problem.why = "'" ~ (word | lower) ~ "' belongs to a statement, not to one expression" -%}
        {%- endfor -%}
        {%- if problem.why -%}
            {{ exceptions.raise_compiler_error("vars.segments '" ~ segment.name ~ "': condition refused: " ~ problem.why) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if known_columns -%}
        {%- do cdp_check_rules('segments', known_columns) -%}
    {%- endif -%}
{%- endmacro %}
