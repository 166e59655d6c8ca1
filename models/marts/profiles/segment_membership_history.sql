{#- Each person's segment memberships over time, from the append-only segment_membership_events log:
    entered_at, and exited_at (null: still a member). Events recorded under a merged-away id belong to the
    surviving person. -#}
with events as (
    select * from {{ ref('segment_membership_events') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

-- one event per person, segment and instant (the survivor's own first)
carried as (
    {{ cdp_log_under_current_ids('events', 'current_ids', 'event_type', 'changed_at', keys=['segment_name'],
                                 per_instant=true) }}
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
    from carried
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
