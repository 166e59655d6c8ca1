{#- Casting, parsing and hashing that differ between engines. -#}

{% macro cdp_try_cast(expr, type) -%}
    {{ return(adapter.dispatch('cdp_try_cast', 'cdp')(expr, type)) }}
{%- endmacro %}

{% macro default__cdp_try_cast(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro bigquery__cdp_try_cast(expr, type) -%}
    safe_cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro cdp_type_string() -%}
    {{ return(adapter.dispatch('cdp_type_string', 'cdp')()) }}
{%- endmacro %}
{% macro default__cdp_type_string() -%}varchar{%- endmacro %}
{% macro spark__cdp_type_string() -%}string{%- endmacro %}
{% macro bigquery__cdp_type_string() -%}string{%- endmacro %}

{% macro cdp_type_timestamp() -%}
    {{ return(adapter.dispatch('cdp_type_timestamp', 'cdp')()) }}
{%- endmacro %}
{% macro default__cdp_type_timestamp() -%}timestamp{%- endmacro %}

{% macro cdp_type_amount() -%}decimal(18, 2){%- endmacro %}

{#- An amount divided by a positive count, rounded half up to cents, identical on every engine: DuckDB
    divides decimals in floating point (309.025 becomes 309.02), Spark in exact decimals (309.03), so the
    division happens in whole cents instead. -#}
{% macro cdp_average_amount(total, count) -%}
    cast(floor((cast(round({{ total }} * 100, 0) as bigint) * 2 + {{ count }}) / (2.0 * {{ count }})) / 100
         as {{ cdp_type_amount() }})
{%- endmacro %}

{#- Parse every timestamp form the raw contract allows (ISO 8601 with T and Z, with a space, or a
    date alone; fractional seconds tolerated), as UTC. Anything else is null, never a crash. -#}
{% macro cdp_parse_timestamp(expr) -%}
    {{ return(adapter.dispatch('cdp_parse_timestamp', 'cdp')(expr)) }}
{%- endmacro %}

{% macro duckdb__cdp_parse_timestamp(expr) -%}
    {#- The common shapes (2026-03-01T12:30:00Z, 2026-03-01 12:30:00, 2026-03-01), checked whole by one regular
        expression with valid hours, minutes and seconds, take DuckDB's cast, three times cheaper than strptime;
        the rest (spaces, fractions, no zone) go through one try_strptime that tries the formats in order. The
        cast of a value of these shapes equals strptime's, invalid days included (both give null). -#}
    coalesce(
        case when regexp_full_match({{ expr }}, '[0-9]{4}-[0-9]{2}-[0-9]{2}(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z| ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?')
            then try_cast({{ expr }} as timestamp) end,
        try_strptime(trim({{ expr }}), ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S',
                                        '%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%d'])
    )
{%- endmacro %}

{% macro spark__cdp_parse_timestamp(expr) -%}
    case when trim({{ expr }}) rlike '^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z?)?$' then
    coalesce(
        try_to_timestamp(trim({{ expr }}), "yyyy-MM-dd'T'HH:mm:ss'Z'"),
        try_to_timestamp(trim({{ expr }}), 'yyyy-MM-dd HH:mm:ss'),
        try_to_timestamp(trim({{ expr }}), "yyyy-MM-dd'T'HH:mm:ss"),
        try_to_timestamp(trim({{ expr }}), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"),
        try_to_timestamp(trim({{ expr }}), 'yyyy-MM-dd HH:mm:ss.SSSSSS'),
        try_to_timestamp(trim({{ expr }}), 'yyyy-MM-dd')
    ) end
{%- endmacro %}

{% macro default__cdp_parse_timestamp(expr) -%}
    coalesce(
        try_to_timestamp(trim({{ expr }}), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        try_to_timestamp(trim({{ expr }}), 'YYYY-MM-DD HH24:MI:SS'),
        try_to_timestamp(trim({{ expr }}), 'YYYY-MM-DD')
    )
{%- endmacro %}

{% macro cdp_md5(expr) -%}
    {{ return(adapter.dispatch('cdp_md5', 'cdp')(expr)) }}
{%- endmacro %}
{% macro default__cdp_md5(expr) -%}md5({{ expr }}){%- endmacro %}
{% macro bigquery__cdp_md5(expr) -%}to_hex(md5({{ expr }})){%- endmacro %}

{#- An integer node id of the identity graph from a string key: the first 60 bits of its MD5, the same value on
    every engine (the connected components of both engines are named alike), so graph work joins, sorts and
    groups integers instead of strings. A collision would merge two nodes: data test identity_node_ids_unique
    fails the build if one ever happens. -#}
{% macro cdp_node_id(expr) -%}
    {{ return(adapter.dispatch('cdp_node_id', 'cdp')(expr)) }}
{%- endmacro %}
{% macro default__cdp_node_id(expr) -%}cast('0x' || substr(md5({{ expr }}), 1, 15) as bigint){%- endmacro %}
{% macro spark__cdp_node_id(expr) -%}cast(conv(substr(md5({{ expr }}), 1, 15), 16, 10) as bigint){%- endmacro %}
{% macro snowflake__cdp_node_id(expr) -%}to_number(substr(md5({{ expr }}), 1, 15), 'XXXXXXXXXXXXXXX'){%- endmacro %}
{% macro bigquery__cdp_node_id(expr) -%}cast(concat('0x', substr(to_hex(md5({{ expr }})), 1, 15)) as int64){%- endmacro %}

{#- A JSON object of the given columns, to keep a raw row in quarantine exactly as it arrived. -#}
{% macro cdp_json_object(columns, alias) -%}
    {{ return(adapter.dispatch('cdp_json_object', 'cdp')(columns, alias)) }}
{%- endmacro %}

{% macro default__cdp_json_object(columns, alias) -%}
    to_json(struct_pack({% for c in columns %}"{{ c }}" := {{ alias }}."{{ c }}"{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{% macro spark__cdp_json_object(columns, alias) -%}
    {#- Spark drops null fields unless told not to; DuckDB keeps them, and the row hash must match. -#}
    to_json(named_struct({% for c in columns %}'{{ c }}', {{ alias }}.`{{ c }}`{% if not loop.last %}, {% endif %}{% endfor %}),
            map('ignoreNullFields', 'false'))
{%- endmacro %}

{% macro snowflake__cdp_json_object(columns, alias) -%}
    to_json(object_construct_keep_null({% for c in columns %}'{{ c }}', {{ alias }}."{{ c }}"{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}

{% macro bigquery__cdp_json_object(columns, alias) -%}
    to_json_string(struct({% for c in columns %}{{ alias }}.`{{ c }}`{% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
