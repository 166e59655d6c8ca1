{#- Generic data tests written here because dbt hub packages cannot be installed. -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{% test non_negative(model, column_name) %}
    select * from {{ model }} where {{ column_name }} < 0
{% endtest %}

{% test between_values(model, column_name, min_value, max_value) %}
    select * from {{ model }}
    where {{ column_name }} is not null
        and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{% test matches_pattern(model, column_name, pattern) %}
    select * from {{ model }}
    where {{ column_name }} is not null and not {{ cdp_regex_matches(column_name, pattern) }}
{% endtest %}
