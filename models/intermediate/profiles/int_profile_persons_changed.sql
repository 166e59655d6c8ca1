{#- The persons whose profile rows could differ from a full build's this run (the scope of the incremental
    profile models, macros/engine/incremental_scope.sql). Everything those models store for a person is a
    function of the person's set of records and of those records' staged content (attributes, orders, events,
    tickets, identifiers: identity_graph groups a person's own records' identifiers), so a person is in scope when
    - one of their records was (re)staged since the stored profiles were built: base rows whose `_staged_at` is
      later than the watermark the last build stored (`staged_through`; a changed or re-delivered row is
      restaged, staging_materialization);
    - their set of records differs from the one stored (count and fingerprint of record keys): a new person, a
      merge or split, a record that vanished upstream or was erased (erasure deletes base rows);
    - they are stored but have no record now (vanished: their stored rows are deleted).
    What depends on other persons or on the as-of instant (consent per golden address, 30-day windows, "days
    since", RFM quintiles, predictions, segments, journey stages) is not stored per person: int_profiles_traited
    and the marts compute it in full from the stored rows. Suppression only filters the CRM models
    (int_profiles_for_crm), which are rebuilt. Without stored profiles (first build, an upgrade) every
    current person is in scope. The state is read by name, not ref: int_profile_traits_summarised is built
    after this model (it is scoped by it) and is read as the last build left it. Once the scoped models ran,
    its post-hook removes the vanished persons from this table (forget_vanished_scope_persons). -#}
{%- set state = adapter.get_relation(database=this.database, schema=this.schema,
                                     identifier='int_profile_traits_summarised') if execute else none -%}
{%- for s in identifier_sources() %}
-- depends_on: {{ ref(s.base) }}
{%- endfor %}
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
    select person_id, record_count, record_fingerprint, staged_through from {{ state }}
),

restaged_records as (
    {%- for s in identifier_sources() %}
    select '{{ s.source_name }}' as source_name, cast({{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id
    from {{ ref(s.base) }}
    where _staged_at > (select max(staged_through) from stored)
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

changed as (
    select coalesce(current_persons.person_id, stored.person_id) as person_id
    from current_persons
    full outer join stored
        on stored.person_id = current_persons.person_id
    where current_persons.person_id is null
        or stored.person_id is null
        or stored.record_count <> current_persons.record_count
        or stored.record_fingerprint <> current_persons.record_fingerprint
    union all
    select person_records.person_id
    from restaged_records
    inner join person_records
        on person_records.source_name = restaged_records.source_name
        and person_records.source_record_id = restaged_records.source_record_id
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
