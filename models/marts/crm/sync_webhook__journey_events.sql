{#- What the events syncs may deliver (docs/profiles-segments-journeys.md): one row per journey event, stage changes from
    journey_transitions and segment entries/exits from segment_membership_events, keyed by a deterministic
    event id (the history row's own hash, prefixed by its kind) that the sync sends as the delivery id. An
    event recorded under a person id later merged away belongs to the survivor. Only persons the CRM syncs
    may send appear (int_profiles_for_crm: suppressed persons never; erased persons are gone from the
    histories), with an email no other person has; email_consent is the address's consent as of this build,
    which the sync checks again at delivery for marketing destinations. The contract makes the column list
    the payload allowlist. -#}
with transitions as (
    select * from {{ ref('journey_transitions') }}
),

segment_events as (
    select * from {{ ref('segment_membership_events') }}
),

merges as (
    -- where a merged-away id lives now, over every hop (the history models read the same map)
    select old_person_id, current_person_id
    from {{ ref('int_person_ids_current') }}
),

profiles as (
    select person_id, email, email_consent
    from {{ ref('int_profiles_for_crm') }}
    where email is not null
        and not has_shared_email
),

events as (
    select
        'jt_' || transition_id as event_id,
        person_id,
        'stage_changed' as event_type,
        from_stage,
        to_stage,
        cast(null as {{ cdp_type_string() }}) as segment_name,
        transitioned_at as occurred_at
    from transitions
    union all
    select
        'se_' || segment_event_id as event_id,
        person_id,
        'segment_' || event_type as event_type,
        cast(null as {{ cdp_type_string() }}) as from_stage,
        cast(null as {{ cdp_type_string() }}) as to_stage,
        segment_name,
        changed_at as occurred_at
    from segment_events
),

final as (
    select
        cast(events.event_id as {{ cdp_type_string() }}) as event_id,
        cast(profiles.person_id as {{ cdp_type_string() }}) as person_id,
        cast(profiles.email as {{ cdp_type_string() }}) as email,
        cast(events.event_type as {{ cdp_type_string() }}) as event_type,
        cast(case
            when events.event_type = 'stage_changed'
                then coalesce(events.from_stage, '(first seen)') || ' -> ' || events.to_stage
            else events.event_type || ' ' || events.segment_name
        end as {{ cdp_type_string() }}) as event_name,
        cast(events.from_stage as {{ cdp_type_string() }}) as from_stage,
        cast(events.to_stage as {{ cdp_type_string() }}) as to_stage,
        cast(events.segment_name as {{ cdp_type_string() }}) as segment_name,
        cast(events.occurred_at as {{ cdp_type_timestamp() }}) as occurred_at,
        cast(profiles.email_consent as {{ cdp_type_string() }}) as email_consent
    from events
    left join merges
        on merges.old_person_id = events.person_id
    inner join profiles
        on profiles.person_id = coalesce(merges.current_person_id, events.person_id)
)

select * from final
