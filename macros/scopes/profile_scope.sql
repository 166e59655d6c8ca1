{#- The profile scope: the persons whose stored per-person profile rows must be recomputed on this run
    (int_profile_scope_persons says when a person is in it, int_profile_scope_state keeps what the last build
    saw). A model that stores rows per person calls profile_scoped_config() in its first line and filters the
    inputs it reads per person with in_scope('person_id'); it never names the scope's state. -#}

{% macro profile_scoped_config() -%}
    {{ scoped_incremental_config('person_id', 'int_profile_scope_persons', new_columns_rebuild=true) }}
{%- endmacro %}

{#- Every source whose rows a profile trait may read, with how its rows reach persons: identifier sources
    through their records (person_records), sources declared with `persons_by` (identifier type -> staged
    column, e.g. email_consents' email) through the identity graph. A row of any of them restaged since the last
    build puts its persons in scope, so a trait may read any of them without going stale. -#}
{% macro profile_scope_sources() -%}
    {{ return(var('raw_sources') | selectattr('identifiers', 'defined') | list
              + var('raw_sources') | rejectattr('identifiers', 'defined') | selectattr('persons_by', 'defined') | list) }}
{%- endmacro %}

{#- Post-hook of int_profile_scope_state, built after every model that reads the profile scope: the scope then
    keeps only current persons. A vanished person (merged away, or erased: macros/privacy/erasure.sql) is in the
    scope so that every scoped model deletes their stored rows; once they have, the id has no use, and an erased
    person's id must not stay anywhere in the warehouse. Engines that build the scope as a plain table (Spark)
    still list vanished persons in it, so their rows go through erase_rows_where (a rewrite on parquet). -#}
{% macro forget_vanished_scope_persons(scope) -%}
    {{ erase_rows_where(ref(scope), "person_id not in (select person_id from " ~ this ~ ")") }}
{%- endmacro %}

{#- A hash of what the stored per-person models are built from: their SQL and the values of the vars they name
    (and of the registry, which every one reads). When it differs from the stored state's, every person is in
    scope, and a scoped model whose columns changed starts from an empty table of its new columns
    (delete_scope_rows): a new trait or a new survivorship rule reaches every stored row without --full-refresh. A change inside a macro they call is not
    seen: run `cdp build --full-refresh` after one. -#}
{% macro profile_scope_definition_hash() -%}
    {%- set parts = [] -%}
    {%- set names = ['raw_sources', 'identifier_types'] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='unique_id')
                if node.resource_type == 'model'
                and (node.config.get('cdp_scope') or {}).get('scope') == 'int_profile_scope_persons' -%}
            {%- do parts.append(node.name ~ '\n' ~ node.raw_code) -%}
            {%- for match in modules.re.findall("var\\(\\s*['\"](\\w+)['\"]", node.raw_code) if match not in names -%}
                {%- do names.append(match) -%}
            {%- endfor -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in names | sort -%}
        {%- do parts.append(name ~ '=' ~ tojson(var(name, none))) -%}
    {%- endfor -%}
    {{- local_md5(parts | join('\n')) -}}
{%- endmacro %}
