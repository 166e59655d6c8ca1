{#- The inputs of BG/NBD and Gamma-Gamma, one row per buyer, computed in the warehouse so every target fits
    on the same numbers: the DuckDB Python models and the Spark driver step (predict/spark.py) both read this
    table. A transaction is a distinct order day; repeat_order_days (x) counts the days after the first,
    recency_weeks (t_x) and age_weeks (T) are whole days between order dates and the as-of date divided by 7
    (the models are fitted in weeks), mean_repeat_value (m_x) is the mean value of the repeat days (null
    without one). Every age moves with the as-of instant, so the table is rebuilt in full. Days are counted
    in doubles: Spark would divide exact decimals, DuckDB floats. -#}
with order_days as (
    select * from {{ ref('int_person_order_days') }}
),

as_of as (
    select cast(max(as_of_at) as date) as as_of_day from {{ ref('int_profiles_traited') }}
),

ranked as (
    select
        order_days.person_id,
        order_days.order_day,
        order_days.order_value,
        row_number() over (partition by order_days.person_id order by order_days.order_day) as day_rank
    from order_days
    cross join as_of
    where order_days.order_day <= as_of.as_of_day
),

per_person as (
    select
        person_id,
        min(order_day) as first_order_day,
        max(order_day) as last_order_day,
        count(*) as n_days,
        sum(order_value) as total_value,
        sum(case when day_rank > 1 then order_value end) as repeat_value
    from ranked
    group by person_id
),

final as (
    select
        per_person.person_id,
        per_person.first_order_day,
        per_person.last_order_day,
        cast(per_person.n_days as bigint) as n_days,
        cast(per_person.total_value as double) as total_value,
        cast(per_person.n_days - 1 as double) as repeat_order_days,
        cast({{ cdp_days_between('per_person.first_order_day', 'per_person.last_order_day') }} as double)
            / cast(7 as double) as recency_weeks,
        cast({{ cdp_days_between('per_person.first_order_day', 'as_of.as_of_day') }} as double)
            / cast(7 as double) as age_weeks,
        case
            when per_person.n_days > 1
                then cast(per_person.repeat_value as double) / cast(per_person.n_days - 1 as double)
        end as mean_repeat_value
    from per_person
    cross join as_of
)

select * from final
