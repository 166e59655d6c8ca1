{#- Each person's journey stages over time, from the append-only journey_transitions log: entered_at is the
    instant of the change, exited_at the next change (null: the current stage). Rows recorded under a
    merged-away id belong to the surviving person (a merge is no transition). -#}
with transitions as (
    select * from {{ ref('journey_transitions') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

mapped as (
    select
        coalesce(current_ids.current_person_id, transitions.person_id) as person_id,
        transitions.to_stage as journey_stage,
        transitions.transitioned_at,
        row_number() over (
            partition by coalesce(current_ids.current_person_id, transitions.person_id), transitions.transitioned_at
            order by case when current_ids.current_person_id is null then 0 else 1 end, transitions.to_stage
        ) as instant_rank
    from transitions
    left join current_ids
        on current_ids.old_person_id = transitions.person_id
),

-- one stage per person and instant (the survivor's own first), and a run of the same stage is one stay
stays as (
    select
        person_id,
        journey_stage,
        transitioned_at,
        lag(journey_stage) over (partition by person_id order by transitioned_at) as previous_stage
    from mapped
    where instant_rank = 1
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
