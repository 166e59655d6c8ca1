{#- Merge rules, first pass: decide per identifier value whether it may join records.
    - blocklisted: in seed identifier_blocklist (placeholders, system addresses, known shared values);
    - shared: the records carrying the value carry more distinct values of a stronger-or-equal identifier
      type than one person may hold (var identifier_types.max_per_person). An email on 40 shop accounts,
      a landline on two people's shop accounts: the value belongs to several people, so it is kept in the
      graph as an observation but never used to merge;
    - used: otherwise.
    Incremental by value: a run deletes and decides again only the values of int_identity_scope_values (that
    model says why the list is complete), reading their observations and the other observations of the
    records that carry them. -#}
{{ scoped_incremental_config('identifier_num', 'int_identity_scope_values') }}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

blocklist as (
    select * from {{ ref('identifier_blocklist') }}
),

types as (
    {{ identifier_types_relation() }}
),

scoped_observed as (
    select * from observed where {{ in_scope('observed.identifier_num') }}
),

{#- the records that carry a value in scope: their observations are the other values the rule counts -#}
record_observed as (
    select observed.*
    from observed
    {%- if is_incremental() %}
    where observed.record_num in (select record_num from scoped_observed)
    {%- endif %}
),

values_seen as (
    select
        scoped_observed.identifier_type,
        scoped_observed.identifier_value,
        min(scoped_observed.identifier_num) as identifier_num,  -- a function of (type, value)
        count(*) as record_count,  -- observed is unique per (record, type, value): tested
        max(case when blocklist.identifier_value is not null then 1 else 0 end) as is_blocklisted,
        max(blocklist.reason) as blocklist_reason
    from scoped_observed
    left join blocklist
        on blocklist.identifier_type = scoped_observed.identifier_type
        and blocklist.identifier_value = scoped_observed.identifier_value
    group by scoped_observed.identifier_type, scoped_observed.identifier_value
),

usable_scoped as (
    select scoped_observed.*
    from scoped_observed
    inner join values_seen
        on values_seen.identifier_num = scoped_observed.identifier_num
    where values_seen.is_blocklisted = 0
),

usable as (
    select record_observed.*
    from record_observed
    left join blocklist
        on blocklist.identifier_type = record_observed.identifier_type
        and blocklist.identifier_value = record_observed.identifier_value
    where blocklist.identifier_value is null
),

co_occurring as (
    select
        this_value.identifier_num,
        min(this_value.identifier_type) as identifier_type,
        other_value.identifier_type as other_type,
        count(distinct other_value.identifier_num) as other_value_count
    from usable_scoped as this_value
    inner join usable as other_value
        on other_value.record_num = this_value.record_num
        and other_value.identifier_type <> this_value.identifier_type
    group by this_value.identifier_num, other_value.identifier_type
),

violations as (
    select
        co_occurring.identifier_num,
        co_occurring.other_type,
        co_occurring.other_value_count,
        other_types.max_per_person as other_limit,
        row_number() over (
            partition by co_occurring.identifier_num
            order by other_types.priority, co_occurring.other_value_count desc, co_occurring.other_type
        ) as violation_rank
    from co_occurring
    inner join types as own_types
        on own_types.identifier_type = co_occurring.identifier_type
    inner join types as other_types
        on other_types.identifier_type = co_occurring.other_type
    where other_types.priority <= own_types.priority
        and co_occurring.other_value_count > other_types.max_per_person
),

final as (
    select
        values_seen.identifier_type,
        values_seen.identifier_value,
        values_seen.identifier_num,
        values_seen.record_count,
        types.is_strong,
        case
            when values_seen.is_blocklisted = 1 then 'blocklisted'
            when violations.identifier_num is not null then 'shared'
            else 'used'
        end as decision,
        case
            when values_seen.is_blocklisted = 1 then 'blocklist: ' || coalesce(values_seen.blocklist_reason, '')
            when violations.identifier_num is not null then
                'records carry ' || cast(violations.other_value_count as {{ cdp_type_string() }})
                || ' distinct ' || violations.other_type || ' values (one person holds at most '
                || cast(violations.other_limit as {{ cdp_type_string() }}) || ')'
        end as decision_detail
    from values_seen
    inner join types
        on types.identifier_type = values_seen.identifier_type
    left join violations
        on violations.identifier_num = values_seen.identifier_num
        and violations.violation_rank = 1
)

select * from final
