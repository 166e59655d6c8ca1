{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='fail',
          post_hook='{{ purge_erased_persons() }}') }}
{#- Append-only log of segment entries and exits: each build adds `entered` for memberships not held at the
    last recorded instant and `exited` for those no longer held. Keyed by person, segment, event and instant
    (a rebuild at the same as-of instant adds nothing); a merged-away id's memberships count as the
    survivor's. full_refresh=false: the log is history. -#}
with memberships as (
    select person_id, segment_name from {{ ref('segment_memberships') }}
),

as_of as (
    select max(as_of_at) as as_of_at from {{ ref('customer_profiles') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

{% if is_incremental() %}
held as (
    select person_id, segment_name
    from (
        {{ cdp_log_under_current_ids(this, 'current_ids', 'event_type', 'changed_at', keys=['segment_name'],
                                     before='(select as_of_at from as_of)') }}
    ) as latest
    where event_type = 'entered'
),
{% else %}
held as (
    select person_id, segment_name from memberships where 1 = 0
),
{% endif %}

changes as (
    select memberships.person_id, memberships.segment_name, 'entered' as event_type
    from memberships
    left join held
        on held.person_id = memberships.person_id and held.segment_name = memberships.segment_name
    where held.person_id is null
    union all
    select held.person_id, held.segment_name, 'exited' as event_type
    from held
    left join memberships
        on memberships.person_id = held.person_id and memberships.segment_name = held.segment_name
    where memberships.person_id is null
),

final as (
    select
        {{ cdp_md5("changes.person_id || '|' || changes.segment_name || '|' || changes.event_type || '@' || cast(as_of.as_of_at as " ~ cdp_type_string() ~ ")") }}
            as segment_event_id,
        changes.person_id,
        changes.segment_name,
        changes.event_type,
        as_of.as_of_at as changed_at
    from changes
    cross join as_of
)

select * from final
{% if is_incremental() %}
where segment_event_id not in (select segment_event_id from {{ this }})
{% endif %}
