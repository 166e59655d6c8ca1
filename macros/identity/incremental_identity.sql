{#- Incremental identity: helpers shared by the identity layer's scope models.
    The scope models (int_identity_scope_*) list the keys whose rows could differ from a full build; the
    identity models recompute only those (macros/scopes/scoped_incremental.sql). -#}

{#- A stored identity table read by name, as the previous run left it (a scope model is built before the
    model it scopes, so a ref would be a cycle); none before the first build. -#}
{% macro identity_stored(name) -%}
    {%- if not execute %}{{ return(none) }}{% endif -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=name)) }}
{%- endmacro %}

{#- True when the stored relation has the column (an older build may lack it). -#}
{% macro identity_has_column(relation, column) -%}
    {%- if relation is none %}{{ return(false) }}{% endif -%}
    {%- for c in adapter.get_columns_in_relation(relation) if c.name | lower == column -%}
        {{ return(true) }}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{#- SQL scalar: the latest _staged_at of every base table that feeds identity. Stored with each row of the
    record-keyed identity models as _staged_through: every base row staged at or before it was read. -#}
{% macro identity_staged_through() -%}
    (select max(_staged_at) from (
        {%- for s in identifier_sources() %}
        select max(_staged_at) as _staged_at from {{ ref(s.base) }}
        {% if not loop.last %}union all{% endif %}
        {%- endfor %}
    ) as staged)
{%- endmacro %}

{#- The graph key of a record from a source's staged row (as int_identifiers_observed builds it). -#}
{% macro identity_record_key(s, alias) -%}
    {{ record_node("'" ~ s.source_name ~ "'", 'cast(' ~ alias ~ '.' ~ s.record_id ~ ' as ' ~ cdp_type_string() ~ ')') }}
{%- endmacro %}

{#- Post-hook of int_identity_scope_graph, the last scope model (built after every reader of the record-keyed
    scopes): the record keys of erased records leave the scope tables in the run that erased them, as they
    leave the person-id ledger (purge_erased_records), instead of staying until the next run. -#}
{% macro purge_erased_scope_records(name) -%}
    {%- set relation = identity_stored(name) -%}
    {%- if relation is not none -%}
    {{ purge_erased_records(relation, 'the identity scope tables') }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
