{{ profile_scoped_config() }}
{#- One golden value per person and attribute, chosen by the survivorship rules in var survivorship (a function
    of the person's own observed values). Incremental by person: a run rewrites the rows of the persons in
    int_profile_scope_persons only. A change of var survivorship needs --full-refresh. -#}
{%- set rules = var('survivorship') -%}
with observed as (
    select * from {{ ref('int_profile_attributes_observed') }}
    where {{ in_scope('person_id') }}
),

counted as (
    select
        *,
        count(*) over (partition by person_id, attribute, value) as value_count
    from observed
),

ranked as (
    {%- for attribute, cfg in rules.items() %}
    select
        person_id,
        attribute,
        value,
        source_name,
        row_number() over (
            partition by person_id
            order by {{ survivorship_order_by(cfg.rule, cfg.get('sources', [])) }}
        ) as survivor_rank
    from counted
    where attribute = '{{ attribute }}'
    {%- if cfg.get('sources') %}
        and source_name in ({% for s in cfg.sources %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        person_id,
        {%- for attribute in rules %}
        max(case when attribute = '{{ attribute }}' then value end) as {{ attribute }},
        max(case when attribute = '{{ attribute }}' then source_name end) as {{ attribute }}_source{% if not loop.last %},{% endif %}
        {%- endfor %}
    from ranked
    where survivor_rank = 1
    group by person_id
)

select * from final
