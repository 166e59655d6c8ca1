{#- Phone normalisation to E.164.
    - an extension ("ext 12", "x12", "#12") and a "(0)" trunk marker inside an international number are dropped;
    - "+..." and "00..." (and NANP's "011...") are international;
    - a national number uses the record's country: its calling code, with the trunk prefix (0 in most of
      Europe) removed; NANP numbers (calling code 1) must have 10 digits, or 11 starting with 1;
    - without a country only international numbers can be normalised;
    - the result must be + and 8 to 15 digits (NANP: exactly +1 and 10 digits, area code 2-9).
    phone_quality() says why a value was not kept: blank, placeholder or invalid. -#}

{% macro phone_stripped(expr) -%}
    {{ cdp_regex_replace_all(
        cdp_regex_replace_all('lower(trim(' ~ expr ~ '))', '\\s*(ext\\.?|extension|x|#)\\s*[0-9]+$', ''),
        '\\(0\\)', '') }}
{%- endmacro %}

{% macro phone_digits(expr) -%}
    {{ cdp_regex_replace_all(phone_stripped(expr), '[^0-9]', '') }}
{%- endmacro %}

{% macro phone_e164_candidate(expr, calling_code, trunk_prefix) -%}
    {%- set s = phone_stripped(expr) -%}
    {%- set d = phone_digits(expr) -%}
    case
        when substr(trim({{ s }}), 1, 1) = '+' then '+' || {{ d }}
        when substr({{ d }}, 1, 2) = '00' then '+' || substr({{ d }}, 3)
        when {{ calling_code }} = '1' and substr({{ d }}, 1, 3) = '011' then '+' || substr({{ d }}, 4)
        when {{ calling_code }} = '1' and length({{ d }}) = 10 then '+1' || {{ d }}
        when {{ calling_code }} = '1' and length({{ d }}) = 11 and substr({{ d }}, 1, 1) = '1' then '+' || {{ d }}
        when {{ calling_code }} = '1' then null
        when {{ calling_code }} is not null and coalesce({{ trunk_prefix }}, '') <> ''
            and substr({{ d }}, 1, length({{ trunk_prefix }})) = {{ trunk_prefix }}
            then '+' || {{ calling_code }} || substr({{ d }}, length({{ trunk_prefix }}) + 1)
        when {{ calling_code }} is not null then '+' || {{ calling_code }} || {{ d }}
    end
{%- endmacro %}

{% macro phone_quality(expr, calling_code, trunk_prefix) -%}
    {%- set d = phone_digits(expr) -%}
    {%- set e = phone_e164_candidate(expr, calling_code, trunk_prefix) -%}
    case
        when {{ clean_text(expr) }} is null then 'blank'
        when lower(trim({{ expr }})) in ({% for v in var('placeholder_phones') %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            or {{ d }} in ({% for v in var('placeholder_phones') %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            or (length({{ d }}) >= 5 and replace({{ d }}, substr({{ d }}, 1, 1), '') = '')
            then 'placeholder'
        when {{ e }} is null then 'invalid'
        when substr({{ e }}, 1, 2) = '+1' and not {{ cdp_regex_matches(e, '^\\+1[2-9][0-9]{9}$') }} then 'invalid'
        when {{ cdp_regex_matches(e, '^\\+[1-9][0-9]{7,14}$') }} then 'valid'
        else 'invalid'
    end
{%- endmacro %}

{% macro normalise_phone(expr, calling_code, trunk_prefix) -%}
    case when {{ phone_quality(expr, calling_code, trunk_prefix) }} = 'valid'
        then {{ phone_e164_candidate(expr, calling_code, trunk_prefix) }} end
{%- endmacro %}
