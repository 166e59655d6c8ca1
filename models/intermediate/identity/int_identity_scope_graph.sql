{#- Scope of the identifier-keyed marts identity_graph and identity_merge_rule_drops: the values whose rows
    could differ from a full build on this run. A value's rows read its observations, the current person of
    each record carrying it (person_records) and its final decision (int_identifiers_decided). Why the list
    is complete:
    - observations: a value whose set of observing records or their observed_at changed is a value a changed
      record carried before or carries now, all in int_identity_scope_values;
    - persons: a record's current person is its latest row in the append-only ledger, so it changes only when
      this run appended a row for it (assigned_at is the run's start) or its rows were purged (an erasure: the
      record vanished, so its values are in int_identity_scope_values): the values of every record of
      int_identity_scope_person_records (the records the ledger gave an id this run, and the changed ones)
      are listed;
    - decisions: a decision can change only by screening (the values of int_identity_scope_values, the only
      ones screened again) or by the second-pass bridges_clusters rule, so the values whose bridges_clusters
      status differs between the stored graph and this run's decisions (both small sets) are listed.
    Integer ids only (the marts delete by the id of their type and value), so no identifier value, an erased
    one included, outlives its deletion in a scope table; the post-hooks delete erased records' keys from the
    record-keyed scope tables in the run that erased them. The stored graph is read by name as the previous run
    left it. -#}
{{ config(post_hook=["{{ purge_erased_scope_records('int_identity_scope_records') }}",
                      "{{ purge_erased_scope_records('int_identity_scope_resolved') }}",
                      "{{ purge_erased_scope_records('int_identity_scope_person_records') }}"]) }}
{#- built after person_records, the last reader of the record-keyed scopes, so the post-hooks above come last -#}
{%- set _person_records = ref('person_records') -%}
{%- set graph = identity_stored('identity_graph') -%}
with scoped_values as (
    select identifier_num from {{ ref('int_identity_scope_values') }}
),

moved_records as (
    select record_key from {{ ref('int_identity_scope_person_records') }}
),

moved_values as (
    select distinct observed.identifier_num
    from {{ ref('int_identifiers_observed') }} as observed
    inner join moved_records
        on moved_records.record_key = observed.record_key
    {%- if graph is none %}
    where 1 = 0  -- first build: the marts build in full and do not read this scope
    {%- endif %}
),

bridging_now as (
    select identifier_num
    from {{ ref('int_identifiers_decided') }}
    where decision = 'bridges_clusters'
),

{% if graph is not none %}
bridging_before as (
    select distinct {{ identifier_node_id('identifier_type', 'identifier_value') }} as identifier_num
    from {{ graph }}
    where merge_decision = 'bridges_clusters'
),
{% else %}
bridging_before as (
    select identifier_num from bridging_now where 1 = 0
),
{% endif %}

bridging_changed as (
    select coalesce(bridging_now.identifier_num, bridging_before.identifier_num) as identifier_num
    from bridging_now
    full outer join bridging_before
        on bridging_before.identifier_num = bridging_now.identifier_num
    where bridging_now.identifier_num is null or bridging_before.identifier_num is null
),

final as (
    select identifier_num from scoped_values
    union
    select identifier_num from moved_values
    union
    select identifier_num from bridging_changed
)

select * from final
