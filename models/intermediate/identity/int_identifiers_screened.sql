{#- Merge rules, first pass: decide per identifier value whether it may join records.
    - blocklisted: in seed identifier_blocklist (placeholders, system addresses, known shared values);
    - shared: the records carrying the value carry more distinct values of a stronger-or-equal identifier
      type than one person may hold (var identifier_types.max_per_person). An email on 40 shop accounts,
      a landline on two people's shop accounts: the value belongs to several people, so it is kept in the
      graph as an observation but never used to merge;
    - used: otherwise. -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

blocklist as (
    select * from {{ ref('identifier_blocklist') }}
),

types as (
    {{ identifier_types_relation() }}
),

values_seen as (
    select
        observed.identifier_type,
        observed.identifier_value,
        min(observed.identifier_num) as identifier_num,  -- a function of (type, value)
        count(*) as record_count,  -- observed is unique per (record, type, value): tested
        max(case when blocklist.identifier_value is not null then 1 else 0 end) as is_blocklisted,
        max(blocklist.reason) as blocklist_reason
    from observed
    left join blocklist
        on blocklist.identifier_type = observed.identifier_type
        and blocklist.identifier_value = observed.identifier_value
    group by observed.identifier_type, observed.identifier_value
),

usable as (
    select observed.*
    from observed
    inner join values_seen
        on values_seen.identifier_num = observed.identifier_num
    where values_seen.is_blocklisted = 0
),

co_occurring as (
    select
        this_value.identifier_num,
        min(this_value.identifier_type) as identifier_type,
        other_value.identifier_type as other_type,
        count(distinct other_value.identifier_num) as other_value_count
    from usable as this_value
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
