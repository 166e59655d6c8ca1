{#- Each person's segment memberships over time, from the append-only segment_membership_events log:
    entered_at, and exited_at (null: still a member). Events recorded under a merged-away id belong to the
    surviving person. -#}
with events as (
    select * from {{ ref('segment_membership_events') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

mapped as (
    select
        coalesce(current_ids.current_person_id, events.person_id) as person_id,
        events.segment_name,
        events.event_type,
        events.changed_at,
        row_number() over (
            partition by coalesce(current_ids.current_person_id, events.person_id), events.segment_name, events.changed_at
            order by case when current_ids.current_person_id is null then 0 else 1 end, events.event_type
        ) as instant_rank
    from events
    left join current_ids
        on current_ids.old_person_id = events.person_id
),

ordered as (
    select
        person_id,
        segment_name,
        event_type,
        changed_at,
        lag(event_type) over (partition by person_id, segment_name order by changed_at) as previous_event,
        lead(event_type) over (partition by person_id, segment_name order by changed_at) as next_event,
        lead(changed_at) over (partition by person_id, segment_name order by changed_at) as next_changed_at
    from mapped
    where instant_rank = 1
),

final as (
    select
        person_id,
        segment_name,
        changed_at as entered_at,
        case when next_event = 'exited' then next_changed_at end as exited_at
    from ordered
    where event_type = 'entered' and (previous_event is null or previous_event = 'exited')
)

select * from final
