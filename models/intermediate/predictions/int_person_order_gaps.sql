{{ profile_scoped_config() }}
{#- Each buyer's usual gap between order days and the gap before the last one, so journey stage rules can
    say "silent for twice their usual gap" (at_risk) and "ordered again after being lapsed" (won_back). A function
    of the person's own order days: incremental by person (int_profile_scope_persons). -#}
with order_days as (
    select * from {{ ref('int_person_order_days') }}
    where {{ in_scope('person_id') }}
),

gaps as (
    select
        person_id,
        order_day,
        {{ cdp_days_between(
            "cast(lag(order_day) over (partition by person_id order by order_day) as " ~ cdp_type_timestamp() ~ ")",
            "cast(order_day as " ~ cdp_type_timestamp() ~ ")") }} as gap_days,
        row_number() over (partition by person_id order by order_day desc) as recency_rank
    from order_days
),

final as (
    select
        person_id,
        cast(avg(gap_days) as double) as avg_order_gap_days,
        cast(max(case when recency_rank = 1 then gap_days end) as double) as previous_order_gap_days
    from gaps
    group by person_id
)

select * from final
