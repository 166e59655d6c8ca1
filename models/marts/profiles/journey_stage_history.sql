{#- Each person's journey stages over time, from the append-only journey_transitions log: entered_at is the
    instant of the change, exited_at the next change (null: the current stage). Rows recorded under a
    merged-away id belong to the surviving person (a merge is no transition). -#}
with transitions as (
    select * from {{ ref('journey_transitions') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

-- one row per person and instant (the survivor's own first)
carried as (
    {{ cdp_log_under_current_ids('transitions', 'current_ids', 'to_stage', 'transitioned_at', per_instant=true) }}
),

-- a run of the same stage is one stay
stays as (
    select
        person_id,
        to_stage as journey_stage,
        transitioned_at,
        lag(to_stage) over (partition by person_id order by transitioned_at) as previous_stage
    from carried
),

final as (
    select
        person_id,
        journey_stage,
        transitioned_at as entered_at,
        lead(transitioned_at) over (partition by person_id order by transitioned_at) as exited_at
    from stays
    where previous_stage is null or previous_stage <> journey_stage
)

select * from final
