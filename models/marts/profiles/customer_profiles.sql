{{ config(post_hook="{{ cdp_warn_journey_coverage(this) }}") }}
{#- The golden profile: one row per person_id, golden attributes, traits, predictions, segments, the journey
    stage and the next best action (ordered rules in vars journey_stages and next_best_actions over the columns
    of int_profiles_scored, the same columns segment conditions read). Rebuilt in full
    on each run, unlike the per-person models it reads (docs/incremental.md): predictions come from one
    model fitted over every buyer and their age moves with the as-of instant, and segments and journey stages are
    conditions over those and over the "days since" traits, so a day of new data can change any person's row. -#}
{%- if execute -%}
    {%- set rule_columns = adapter.get_columns_in_relation(ref('int_profiles_scored')) | map(attribute='name') | list -%}
    {#- a compile before the first build has no upstream columns to check against: the database checks then -#}
    {%- if rule_columns -%}
        {%- do cdp_check_rules('journey_stages', rule_columns) -%}
        {%- do cdp_check_rules('next_best_actions', rule_columns + ['journey_stage', 'segments', 'segment_count']) -%}
    {%- endif -%}
{%- endif %}
with profiles as (
    select * from {{ ref('int_profiles_scored') }}
),

memberships as (
    select * from {{ ref('segment_memberships') }}
),

person_segments as (
    select
        person_id,
        {{ cdp_sorted_string_agg('segment_name', ';') }} as segments,
        count(*) as segment_count
    from memberships
    group by person_id
),

joined as (
    select
        profiles.*,
        coalesce(person_segments.segments, '') as segments,
        coalesce(person_segments.segment_count, 0) as segment_count
    from profiles
    left join person_segments
        on person_segments.person_id = profiles.person_id
),

staged as (
    select
        joined.*,
        {{ cdp_first_matching_rule('journey_stages', 'name', 'unclassified') }} as journey_stage
    from joined
),

final as (
    select
        staged.*,
        {{ cdp_first_matching_rule('next_best_actions', 'name', 'none') }} as next_best_action,
        {{ cdp_first_matching_rule('next_best_actions', 'reason', 'No action rule matched.') }} as next_best_action_reason
    from staged
)

select * from final
