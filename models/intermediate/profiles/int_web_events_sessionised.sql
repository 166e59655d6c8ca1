{{ profile_scoped_config() }}
{#- Each web event of a person with whether it starts a session (no earlier event of the person within
    var web_session_gap_minutes). That flag depends only on the person's own events, so it is stored, and
    incremental by person (the persons in int_profile_scope_persons are rewritten); int_profiles_traited counts
    the last 30 days' events and sessions from it in full, since the 30-day window moves with the as-of instant. -#}
with events as (
    select * from {{ ref('stg_web__events') }}
),

person_records as (
    select * from {{ ref('person_records') }}
    where source_name = 'web_events'
        and {{ in_scope('person_id') }}
),

person_events as (
    select
        person_records.person_id,
        events.web_event_id,
        events.occurred_at,
        lag(events.occurred_at) over (
            partition by person_records.person_id order by events.occurred_at, events.web_event_id
        ) as previous_occurred_at
    from events
    inner join person_records
        on person_records.source_record_id = events.web_event_id
),

final as (
    select
        person_id,
        web_event_id,
        occurred_at,
        (previous_occurred_at is null
            or {{ cdp_minutes_between('previous_occurred_at', 'occurred_at') }} > {{ var('web_session_gap_minutes') }})
            as is_session_start
    from person_events
)

select * from final
