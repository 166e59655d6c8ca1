{#- The profile scope: the persons whose stored profile rows could differ from a full build's this run
    (macros/scopes). Everything a scoped model stores for a person is a function of the person's set of records
    and of the staged rows that reach the person (their records' attributes, orders, events, tickets and
    identifiers, and the rows of sources declared with `persons_by`, such as consent events of their
    addresses), so a person is in scope when
    - a row that reaches them was (re)staged since the last build: base rows whose `_staged_at` is later than
      the watermark int_profile_scope_state stored (a changed or re-delivered row is restaged); for every
      source of profile_scope_sources(), so a trait may read any of them;
    - their set of records differs from the one stored (count and fingerprint of record keys): a new person, a
      merge or split, a record that vanished upstream or was erased (erasure deletes base rows);
    - they are stored but have no record now (vanished: their stored rows are deleted);
    - the stored per-person models were built from another definition (int_profile_scope_state's
      definition_hash: their SQL or the vars they read changed), then every person is in scope.
    What depends on other persons or on the as-of instant is not stored per person: int_profiles_traited and the
    marts compute it in full. Without a stored state (first build, an upgrade) every current person is in scope.
    The state is read by name, not ref: it is built after every scoped model and read as the last build left it. -#}
{%- set state = adapter.get_relation(database=this.database, schema=this.schema,
                                     identifier='int_profile_scope_state') if execute else none -%}
{%- set sources = profile_scope_sources() -%}
{%- for s in sources %}
-- depends_on: {{ ref(s.base) }}
{%- endfor %}
-- depends_on: {{ ref('identity_graph') }}
with person_records as (
    select person_id, source_name, source_record_id, record_key from {{ ref('person_records') }}
),

current_persons as (
    select
        person_id,
        count(*) as record_count,
        sum({{ cdp_fingerprint_hash('record_key') }}) as record_fingerprint
    from person_records
    group by person_id
),

{% if state is not none %}
stored as (
    select person_id, record_count, record_fingerprint, staged_through, definition_hash from {{ state }}
),

watermark as (
    select max(staged_through) as staged_through from stored
),

restaged_records as (
    {%- for s in sources if s.identifiers is defined %}
    select '{{ s.source_name }}' as source_name, cast(base.{{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id
    from {{ ref(s.base) }} as base
    cross join watermark
    where base._staged_at > watermark.staged_through
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{%- set by_identifier = [] -%}
{%- for s in sources if s.identifiers is not defined -%}
    {%- for identifier_type, column in s.persons_by.items() -%}
        {%- do by_identifier.append((s, identifier_type, column)) -%}
    {%- endfor -%}
{%- endfor %}
{% if by_identifier %}
restaged_identifiers as (
    {%- for s, identifier_type, column in by_identifier %}
    select '{{ identifier_type }}' as identifier_type, cast(base.{{ column }} as {{ cdp_type_string() }}) as identifier_value
    from {{ ref(s.base) }} as base
    cross join watermark
    where base._staged_at > watermark.staged_through
        and base.{{ column }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),
{% endif %}

changed as (
    select coalesce(current_persons.person_id, stored.person_id) as person_id
    from current_persons
    full outer join stored
        on stored.person_id = current_persons.person_id
    where current_persons.person_id is null
        or stored.person_id is null
        or stored.record_count <> current_persons.record_count
        or stored.record_fingerprint <> current_persons.record_fingerprint
        or stored.definition_hash <> '{{ profile_scope_definition_hash() }}'
    union all
    select person_records.person_id
    from restaged_records
    inner join person_records
        on person_records.source_name = restaged_records.source_name
        and person_records.source_record_id = restaged_records.source_record_id
    {%- if by_identifier %}
    union all
    select graph.person_id
    from restaged_identifiers
    inner join {{ ref('identity_graph') }} as graph
        on graph.identifier_type = restaged_identifiers.identifier_type
        and graph.identifier_value = restaged_identifiers.identifier_value
    {%- endif %}
),
{% else %}
changed as (
    select person_id from current_persons
),
{% endif %}

final as (
    select distinct person_id from changed
)

select * from final
