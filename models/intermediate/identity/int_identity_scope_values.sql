{#- Scope of the value-keyed screening (int_identifiers_screened): the identifier values whose decision could
    differ from a full build on this run. A value's screening reads the records that carry it (its record
    count), those records' other values (the shared rule counts them), and the blocklist seed. Why the list
    is complete:
    - a record whose observations changed (int_identity_scope_records: re-staged or vanished) changes the
      records of exactly the values it carried before (int_identity_scope_old_values) and carries now, and
      the co-occurring values of the same values: all listed;
    - a value entering, leaving or changing reason in the blocklist seed changes its own decision and, by
      becoming usable or not, the counts of the values on the same records: both listed (blocklist_changed);
    - nothing else is read. Changing the merge rules themselves (var identifier_types) needs --full-refresh. -#}
{%- set screened = identity_stored('int_identifiers_screened') -%}
with scope_records as (
    select record_num from {{ ref('int_identity_scope_records') }}
),

observed as (
    select record_num, identifier_type, identifier_value, identifier_num from {{ ref('int_identifiers_observed') }}
),

new_values as (
    select distinct observed.identifier_num
    from observed
    inner join scope_records
        on scope_records.record_num = observed.record_num
),

old_values as (
    select identifier_num from {{ ref('int_identity_scope_old_values') }}
),

blocklist as (
    select identifier_type, identifier_value, reason from {{ ref('identifier_blocklist') }}
),

{% if screened is not none %}
stored as (
    select identifier_num, identifier_type, identifier_value, decision, decision_detail from {{ screened }}
),

blocklist_changed as (
    select stored.identifier_num
    from stored
    left join blocklist
        on blocklist.identifier_type = stored.identifier_type
        and blocklist.identifier_value = stored.identifier_value
    where (stored.decision = 'blocklisted') <> (blocklist.identifier_value is not null)
        or (blocklist.identifier_value is not null
            and stored.decision_detail <> 'blocklist: ' || coalesce(blocklist.reason, ''))
),
{% else %}
blocklist_changed as (
    select identifier_num from old_values where 1 = 0
),
{% endif %}

blocklist_records as (
    select distinct observed.record_num
    from observed
    inner join blocklist_changed
        on blocklist_changed.identifier_num = observed.identifier_num
),

blocklist_neighbours as (
    select distinct observed.identifier_num
    from observed
    inner join blocklist_records
        on blocklist_records.record_num = observed.record_num
),

final as (
    select identifier_num from new_values
    union
    select identifier_num from old_values
    union
    select identifier_num from blocklist_neighbours
)

select * from final
