{#- Erasure, applied early: rows carrying an erased identifier are deleted from the base_ tables right after
    each build of them (post-hook), so identity, profiles, quarantine, person_id_history and the sync models
    never see them, and a re-delivered raw row is deleted again on every later build. Raw files stay as the
    client delivered them. The erased identifiers are the ledger privacy_erased_identifiers (salted hashes).
    Every deletion goes through erase_rows_where (macros/engine/privacy.sql): DELETE where the table format has
    it, a crash-safe rewrite of the table without the rows on Spark's parquet tables (parquet_rewrite.sql). -#}

{#- identifier type -> base column that a source's rows are erased by: its registry identifiers, and the
    email of sources that carry one without declaring identifiers (consent events). -#}
{% macro erasable_columns(s) -%}
    {%- set cols = dict(s.get('identifiers', {})) -%}
    {%- if 'email' in s.get('quality', []) and 'email' not in cols %}{% do cols.update({'email': 'email'}) %}{% endif -%}
    {{ return(cols) }}
{%- endmacro %}

{% macro erased_identifiers_relation() -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier='privacy_erased_identifiers')) }}
{%- endmacro %}

{#- True when the ledger exists and holds at least one identifier (no erasure yet: nothing to hash). -#}
{% macro erasure_ledger_in_use() -%}
    {%- if not execute %}{{ return(false) }}{% endif -%}
    {%- set ledger = erased_identifiers_relation() -%}
    {%- if ledger is none %}{{ return(false) }}{% endif -%}
    {%- set n = run_query('select count(*) from ' ~ ledger) -%}
    {{ return(n.columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- SQL condition: a row of columns `cols` (type -> column) carries an erased identifier. -#}
{% macro erased_condition(cols, ledger) -%}
    {%- for type, column in cols.items() %}
    ({{ column }} is not null and {{ privacy_hash(type, 'cast(' ~ column ~ ' as ' ~ cdp_type_string() ~ ')') }} in (
        select identifier_hash from {{ ledger }} where identifier_type = '{{ type }}'))
    {%- if not loop.last %} or{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- Post-hook of every base_ model whose source carries identifiers (incremental_staging_config). -#}
{% macro delete_erased_rows(source_name) -%}
    {%- set cols = erasable_columns(raw_source(source_name)) -%}
    {%- if cols and erasure_ledger_in_use() -%}
    {{ erase_rows_where(this, erased_condition(cols, erased_identifiers_relation())) }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of the append-only person-id ledger, and of the identity scope tables (incremental_identity.sql):
    rows of erased records go too (record keys hold source ids such as the CRM contact id). `relation`: the
    table to purge (default: the model being built); `what` names it in the log. -#}
{% macro purge_erased_records(relation=none, what='the person-id ledger') -%}
    {%- if erasure_ledger_in_use() -%}
    {%- set ledger = erased_identifiers_relation() -%}
    {%- do log('erasure: purging erased records from ' ~ what ~ ' (' ~ (relation or this).identifier ~ ')') -%}
    {{ erase_rows_where(relation or this, privacy_hash('record_key', 'record_key') ~ " in (select identifier_hash from "
                        ~ ledger ~ " where identifier_type = 'record_key')") }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of the append-only history logs (journey_transitions, segment_membership_events): history is
    kept across builds and full refreshes, so an erased person's rows must be deleted there too (the ledger
    holds each erased person's id, hashed). The histories derived from these logs follow on the same build. -#}
{% macro purge_erased_persons() -%}
    {%- if erasure_ledger_in_use() -%}
    {%- set ledger = erased_identifiers_relation() -%}
    {{ erase_rows_where(this, privacy_hash('person_id', 'person_id') ~ " in (select identifier_hash from "
                        ~ ledger ~ " where identifier_type = 'person_id')") }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
