{#- History recorded under a person id that was later merged into another belongs to the survivor (README
    "Journeys": the merge is no transition). The two append-only logs (journey_transitions,
    segment_membership_events) and the histories derived from them (journey_stage_history,
    segment_membership_history) all read a log this way, so the carry-over is written once, here. -#}

{#- Rows of `log_relation` under today's person ids (`current_ids`: the int_person_ids_current import CTE), one
    per person and `keys`: the latest before the instant `before` when `per_instant` is false (the state
    recorded so far), else one per person, keys and `instant_column`. At equal instants the survivor's own
    row wins over a merged-away id's, then the smallest `value_column`. Columns: person_id,
    recorded_person_id (the id the row was logged under), the keys, value_column, instant_column. -#}
{% macro cdp_log_under_current_ids(log_relation, current_ids, value_column, instant_column, keys=[], per_instant=false,
                                   before=none) -%}
    {%- set partition = ['person_id'] + keys + ([instant_column] if per_instant else []) -%}
    select person_id, recorded_person_id, {% for key in keys %}{{ key }}, {% endfor %}{{ value_column }}, {{ instant_column }}
    from (
        select
            carried.*,
            row_number() over (
                partition by {{ partition | join(', ') }}
                order by {% if not per_instant %}{{ instant_column }} desc, {% endif -%}
                    case when carried_over then 1 else 0 end, {{ value_column }}
            ) as carry_rank
        from (
            select
                coalesce({{ current_ids }}.current_person_id, logged.person_id) as person_id,
                logged.person_id as recorded_person_id,
                {{ current_ids }}.current_person_id is not null as carried_over,
                {%- for key in keys %}
                logged.{{ key }},
                {%- endfor %}
                logged.{{ value_column }},
                logged.{{ instant_column }}
            from {{ log_relation }} as logged
            left join {{ current_ids }}
                on {{ current_ids }}.old_person_id = logged.person_id
            {%- if before is not none %}
            where logged.{{ instant_column }} < {{ before }}
            {%- endif %}
        ) as carried
    ) as ranked
    where carry_rank = 1
{%- endmacro %}
