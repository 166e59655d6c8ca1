{{ config(materialized='incremental', incremental_strategy='append', full_refresh=false, on_schema_change='fail',
          post_hook='{{ purge_erased_persons() }}') }}
{#- Append-only log of journey stage changes: each build (as of CDP_AS_OF, or the data's latest event) adds one
    row per person whose customer_profiles.journey_stage differs from the last one recorded before that
    instant (from_stage null: first seen). Keyed by person, stage and instant, so a rebuild at the same as-of
    instant adds nothing; history of a merged-away id counts as the survivor's (the merge is no transition).
    full_refresh=false: the log is history, a --full-refresh must not erase it. -#}
with profiles as (
    select person_id, journey_stage, as_of_at from {{ ref('customer_profiles') }}
),

current_ids as (
    select * from {{ ref('int_person_ids_current') }}
),

{% if is_incremental() %}
latest as (
    {{ cdp_log_under_current_ids(this, 'current_ids', 'to_stage', 'transitioned_at',
                                 before='(select max(as_of_at) from profiles)') }}
),
{% else %}
latest as (
    select
        cast(null as {{ cdp_type_string() }}) as person_id,
        cast(null as {{ cdp_type_string() }}) as to_stage
    from profiles
    where 1 = 0
),
{% endif %}

changes as (
    select
        profiles.person_id,
        latest.to_stage as from_stage,
        profiles.journey_stage as to_stage,
        profiles.as_of_at as transitioned_at
    from profiles
    left join latest
        on latest.person_id = profiles.person_id
    where latest.to_stage is null or latest.to_stage <> profiles.journey_stage
),

final as (
    select
        {{ cdp_md5("person_id || '>' || to_stage || '@' || cast(transitioned_at as " ~ cdp_type_string() ~ ")") }}
            as transition_id,
        person_id,
        from_stage,
        to_stage,
        transitioned_at
    from changes
)

select * from final
{% if is_incremental() %}
where transition_id not in (select transition_id from {{ this }})
{% endif %}
