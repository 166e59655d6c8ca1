{#- One row per person and segment. Segments are declared in var segments (name, description, condition). -#}
with profiles as (
    select * from {{ ref('int_profiles_traited') }}
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
