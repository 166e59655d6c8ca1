{#- One row per person and segment. Segments are declared in var segments (name, description, condition)
    over the columns of int_profiles_scored: traits, predictions and order gaps, the same columns journey stage
    rules read. Names and conditions are checked before they are rendered (macros/profiles/segment_rules.sql);
    a condition naming an unknown column fails the build with the segment's name. Rebuilt in full on
    each run: the conditions read traits that move with the as-of instant and predictions fitted over every buyer. -#}
{%- if execute -%}
    {%- set rule_columns = adapter.get_columns_in_relation(ref('int_profiles_scored')) | map(attribute='name') | list -%}
    {%- do cdp_check_segments(rule_columns) -%}
{%- endif %}
with profiles as (
    select * from {{ ref('int_profiles_scored') }}
),

memberships as (
    {%- for segment in var('segments') %}
    select
        person_id,
        '{{ segment.name }}' as segment_name
    from profiles
    where {{ segment.condition }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        person_id,
        segment_name,
        {{ cdp_md5("person_id || '|' || segment_name") }} as segment_membership_id
    from memberships
)

select * from final
