{#- Email normalisation: trimmed, lower-cased, a leading "mailto:" and surrounding <> removed,
    syntax-checked. email_quality() says why a value was not kept; normalise_email() keeps only
    valid ones. Placeholders (vars placeholder_emails, placeholder_email_local_parts,
    placeholder_email_domains) are nulled and counted as 'placeholder'. -#}

{% macro email_candidate(expr) -%}
    {{ cdp_regex_replace_all('lower(trim(' ~ expr ~ '))', '^(mailto:)?<?|>$', '') }}
{%- endmacro %}

{% macro email_quality(expr) -%}
    {%- set c = email_candidate(expr) -%}
    {%- set local_parts = var('placeholder_email_local_parts') | join('|') | replace('.', '\\.') | replace('-', '\\-') -%}
    {%- set domains = var('placeholder_email_domains') | join('|') | replace('.', '\\.') | replace('-', '\\-') -%}
    case
        when {{ clean_text(expr) }} is null then 'blank'
        when {{ c }} in ({% for v in var('placeholder_emails') %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            then 'placeholder'
        when {{ cdp_regex_matches(c, '^(' ~ local_parts ~ ')@') }}
            or {{ cdp_regex_matches(c, '@(' ~ domains ~ ')$') }} then 'placeholder'
        when {{ cdp_regex_matches(c, '^[a-z0-9_%+-]+(\\.[a-z0-9_%+-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$') }}
            then 'valid'
        else 'invalid'
    end
{%- endmacro %}

{% macro normalise_email(expr) -%}
    case when {{ email_quality(expr) }} = 'valid' then {{ email_candidate(expr) }} end
{%- endmacro %}
