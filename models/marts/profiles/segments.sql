{#- The segment catalogue, from var segments, with current member counts. Names are checked before they are
    rendered (macros/profiles/segment_rules.sql). -#}
{%- if execute %}{% do cdp_check_segments() %}{% endif %}
with memberships as (
    select * from {{ ref('segment_memberships') }}
),

catalogue as (
    {%- for segment in var('segments') %}
    select
        '{{ segment.name }}' as segment_name,
        {{ cdp_string_literal(segment.description) }} as segment_description,
        {{ cdp_string_literal(segment.condition) }} as segment_condition
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        catalogue.segment_name,
        catalogue.segment_description,
        catalogue.segment_condition,
        count(memberships.person_id) as member_count
    from catalogue
    left join memberships
        on memberships.segment_name = catalogue.segment_name
    group by catalogue.segment_name, catalogue.segment_description, catalogue.segment_condition
)

select * from final
