{#- The compute-once CTE chain that normalises a source's email and phone, written once for every base model
    (the same steps used to be repeated in each). It emits named CTEs, each adding columns to the previous one,
    and ends with `contact_points`, which the model reads:

        stripped        source.*, [country_code, calling_code, trunk_prefix], _email_candidate, _phone_stripped
        digits          _email_quality, _phone_digits
        candidates      _phone_e164                                            (with a phone column)
        contact_points  _phone_quality                                         (with a phone column)

    relation: the CTE holding the raw rows; email, phone: raw columns (none to leave one out); country: the raw
    country column, joined to seed country_codes for the calling code and trunk prefix (none: only international
    numbers can be normalised); extra: {alias: expression} columns computed once in the first CTE.
    The model then uses normalised_email('_email_quality', '_email_candidate') and
    normalised_phone('_phone_quality', '_phone_e164'). Usage, ending with a comma before the model's own CTEs:

        {{ contact_point_ctes('source', email='email', phone='phone', country='country') }},
-#}
{% macro contact_point_ctes(relation, email=none, phone=none, country=none, extra={}) -%}
{%- set no_string = 'cast(null as ' ~ cdp_type_string() ~ ')' -%}
{%- set first = ['source.*'] -%}
{%- if country is not none -%}
    {%- do first.extend(['countries.country_code', 'countries.calling_code', 'countries.trunk_prefix']) -%}
{%- endif -%}
{%- for alias, expression in extra.items() -%}
    {%- do first.append(expression ~ ' as ' ~ alias) -%}
{%- endfor -%}
{%- set second = ['*'] -%}
{%- if email is not none -%}
    {%- do first.append(email_candidate('source.' ~ email) ~ ' as _email_candidate') -%}
    {%- do second.append(email_quality(email, '_email_candidate') ~ ' as _email_quality') -%}
{%- endif -%}
{%- if phone is not none -%}
    {%- do first.append(phone_stripped('source.' ~ phone) ~ ' as _phone_stripped') -%}
    {%- do second.append(phone_digits('_phone_stripped') ~ ' as _phone_digits') -%}
{%- endif -%}
stripped as (
    select
        {{ first | join(',\n        ') }}
    from {{ relation }} as source
    {%- if country is not none %}
    left join {{ ref('country_codes') }} as countries
        on lower(trim(source.{{ country }})) = countries.country_text
    {%- endif %}
),

digits as (
    select
        {{ second | join(',\n        ') }}
    from stripped
),
{%- if phone is not none %}
{%- set calling_code = 'calling_code' if country is not none else no_string -%}
{%- set trunk_prefix = 'trunk_prefix' if country is not none else no_string %}

candidates as (
    select
        *,
        {{ phone_e164_candidate('_phone_stripped', '_phone_digits', calling_code, trunk_prefix) }} as _phone_e164
    from digits
),

contact_points as (
    select
        candidates.*,
        {{ phone_quality('candidates.' ~ phone, 'candidates._phone_digits', 'candidates._phone_e164',
                         'lengths.nsn_lengths', 'lengths.calling_code') }} as _phone_quality
    from candidates
    {{ phone_lengths_join('candidates._phone_e164', 'lengths') }}
)
{%- else %}

contact_points as (
    select * from digits
)
{%- endif %}
{%- endmacro %}
