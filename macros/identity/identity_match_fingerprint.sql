{#- One MD5 of the attributes the probabilistic tier compares on a row of int_identity_match_records: equal
    fingerprints mean the record's pairs score the same under one model. A null and a value stay distinct. -#}
{% macro identity_match_fingerprint(alias) -%}
    md5(
        {%- for c in ['first_name', 'last_name', 'email', 'email_local', 'email_domain', 'phone', 'city', 'country'] %}
        coalesce('=' || {{ alias }}.{{ c }}, '~'){{ " || '|' ||" if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}
