{#- Phone normalisation to E.164, computed once per step: a model computes each value in its own CTE column
    and hands the column names to the next macro (none of these macros re-inlines another's SQL):

        _phone_stripped = phone_stripped(raw)                                     one CTE
        _phone_digits   = phone_digits('_phone_stripped')                         next CTE
        _phone_e164     = phone_e164_candidate('_phone_stripped', '_phone_digits', calling code, trunk prefix)
        _phone_quality  = phone_quality(raw, '_phone_digits', '_phone_e164', lengths.nsn_lengths, ...)
                          after phone_lengths_join('_phone_e164', 'lengths')
        phone           = normalised_phone('_phone_quality', '_phone_e164')

    Rules:
    - an extension ("ext 12", "x12", "#12") and a "(0)" trunk marker inside an international number are dropped;
    - "+..." and "00..." (and NANP's "011...") are international;
    - a national number uses the record's country: its calling code, with the trunk prefix (0 in most of
      Europe) removed; NANP numbers (calling code 1) must have 10 digits, or 11 starting with 1;
    - without a country only international numbers can be normalised;
    - the national significant number (the digits after the calling code) must have a length that
      libphonenumber's metadata holds possible for the calling code (seed phone_number_lengths, written by
      scripts/generate_phone_seeds.py), and an E.164 number has at most 15 digits: `+44 20 1234` is
      invalid. NANP numbers must be +1 and 10 digits with an area code 2-9.
    phone_quality() says why a value was not kept: blank, placeholder or invalid. -#}

{% macro phone_stripped(expr) -%}
    {{ cdp_regex_replace_all(
        cdp_regex_replace_all('lower(trim(' ~ expr ~ '))', '\\s*(ext\\.?|extension|x|#)\\s*[0-9]+$', ''),
        '\\(0\\)', '') }}
{%- endmacro %}

{#- stripped: the column holding phone_stripped(). -#}
{% macro phone_digits(stripped) -%}
    {{ cdp_regex_replace_all(stripped, '[^0-9]', '') }}
{%- endmacro %}

{#- stripped, digits: columns holding phone_stripped() and phone_digits(). -#}
{% macro phone_e164_candidate(stripped, digits, calling_code, trunk_prefix) -%}
    case
        when substr(trim({{ stripped }}), 1, 1) = '+' then '+' || {{ digits }}
        when substr({{ digits }}, 1, 2) = '00' then '+' || substr({{ digits }}, 3)
        when {{ calling_code }} = '1' and substr({{ digits }}, 1, 3) = '011' then '+' || substr({{ digits }}, 4)
        when {{ calling_code }} = '1' and length({{ digits }}) = 10 then '+1' || {{ digits }}
        when {{ calling_code }} = '1' and length({{ digits }}) = 11 and substr({{ digits }}, 1, 1) = '1' then '+' || {{ digits }}
        when {{ calling_code }} = '1' then null
        when {{ calling_code }} is not null and coalesce({{ trunk_prefix }}, '') <> ''
            and substr({{ digits }}, 1, length({{ trunk_prefix }})) = {{ trunk_prefix }}
            then '+' || {{ calling_code }} || substr({{ digits }}, length({{ trunk_prefix }}) + 1)
        when {{ calling_code }} is not null then '+' || {{ calling_code }} || {{ digits }}
    end
{%- endmacro %}

{#- A left join of the length rules for a candidate column: one equi-join on the number's first three digits
    (calling codes are prefix-free, and the seed lists every 3-digit start of each code). -#}
{% macro phone_lengths_join(e164, alias) -%}
    left join {{ ref('phone_number_lengths') }} as {{ alias }}
        on {{ alias }}.dial_prefix = substr({{ e164 }}, 2, 3)
{%- endmacro %}

{#- raw: the raw value; digits, e164: the digits and candidate columns; nsn_lengths and calling_code: the
    joined length rule of the candidate (phone_lengths_join). -#}
{% macro phone_quality(raw, digits, e164, nsn_lengths, calling_code) -%}
    {%- set placeholders = var('placeholder_phones') -%}
    case
        when {{ clean_text(raw) }} is null then 'blank'
        when lower(trim({{ raw }})) in ({% for v in placeholders %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            or {{ digits }} in ({% for v in placeholders %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            or (length({{ digits }}) >= 5 and replace({{ digits }}, substr({{ digits }}, 1, 1), '') = '')
            then 'placeholder'
        when {{ e164 }} is null or {{ nsn_lengths }} is null or length({{ e164 }}) > 16 then 'invalid'
        when substr({{ e164 }}, 1, 2) = '+1' and not {{ cdp_regex_matches(e164, '^\\+1[2-9][0-9]{9}$') }} then 'invalid'
        when not {{ cdp_regex_matches(e164, '^\\+[1-9][0-9]+$') }} then 'invalid'
        when instr({{ nsn_lengths }},
                   ',' || cast(length({{ e164 }}) - 1 - length({{ calling_code }}) as {{ cdp_type_string() }}) || ',') > 0
            then 'valid'
        else 'invalid'
    end
{%- endmacro %}

{#- quality, e164: the phone_quality() and candidate columns. -#}
{% macro normalised_phone(quality, e164) -%}
    case when {{ quality }} = 'valid' then {{ e164 }} end
{%- endmacro %}
