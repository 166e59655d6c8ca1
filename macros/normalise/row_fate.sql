{#- Every raw row gets exactly one fate, so no row is ever lost without a count:
    - after_as_of: stamped after the CDP_AS_OF instant (`stamp` > the cut; see macros/normalise/as_of.sql);
    - duplicate:   a byte-for-byte copy of an earlier row (same raw-row hash);
    - quarantined: the row cannot be used (_quarantine_reason says why);
    - superseded:  an older version of a record whose newer version is staged;
    - staged:      the one current version of the record.
    Needs columns _raw_row_hash and _quarantine_reason. One window, sorted once: byte-for-byte copies share
    the key, the quarantine group and the order, so they sit next to each other in it (ties end on the
    hash) and every copy after the first is a duplicate; copies share a dense_rank, so the first copy of
    the latest version is the one staged. -#}
{% macro row_fate(key, latest_first_order_by, stamp=none) -%}
    {%- set cut = cdp_as_of_cut() -%}
    {%- set after = (stamp ~ ' > ' ~ cdp_as_of_literal()) if (stamp and cut) else 'false' -%}
    {%- set versions -%}
        (partition by {{ key }}, case when {{ after }} then 2 when _quarantine_reason is null then 0 else 1 end
         order by {{ latest_first_order_by }}, _raw_row_hash)
    {%- endset -%}
    case
        when {{ after }} then 'after_as_of'
        when _raw_row_hash = lag(_raw_row_hash) over {{ versions }} then 'duplicate'
        when _quarantine_reason is not null then 'quarantined'
        when dense_rank() over {{ versions }} > 1 then 'superseded'
        else 'staged'
    end
{%- endmacro %}

{#- The raw row as JSON and its hash: what quarantine keeps and what duplicates are found by. -#}
{% macro raw_row_columns(columns, alias='source') -%}
    {{ cdp_json_object(columns, alias) }} as _raw_row,
    {{ raw_row_hash(columns, alias) }} as _raw_row_hash
{%- endmacro %}

{% macro raw_row_hash(columns, alias='source') -%}
    {{ cdp_md5(cdp_json_object(columns, alias)) }}
{%- endmacro %}

{#- True when the raw row (its JSON, column raw_row) holds a NUL byte: no field of the contract carries one, so
    the line is corrupt and is quarantined (reason nul_byte) rather than staged with a truncated value. JSON
    writes NUL as the six characters \u0000 on every engine; the literal is engine-specific. -#}
{% macro raw_row_has_nul_byte(raw_row) -%}
    (instr({{ raw_row }}, {{ adapter.dispatch('cdp_json_nul_literal', 'cdp')() }}) > 0)
{%- endmacro %}
{% macro default__cdp_json_nul_literal() -%}'\u0000'{%- endmacro %}
{% macro spark__cdp_json_nul_literal() -%}'\\u0000'{%- endmacro %}
