{#- Email normalisation, computed once per step: a model computes the candidate in one CTE column, its quality
    in the next, and the kept email from both (none of these macros re-inlines another's SQL):

        _email_candidate = email_candidate(raw)
        _email_quality   = email_quality(raw, '_email_candidate')
        email            = normalised_email('_email_quality', '_email_candidate')

    The candidate is trimmed, lower-cased, with a leading "mailto:" and surrounding <> removed. It is valid
    when its local part is an RFC 5322 dot-atom (atext: letters, digits and ! # $ % & ' * + - / = ? ^ _ ` { | } ~,
    in dot-separated runs: `sean.o'brien@gmail.com`, `ann+news@x.io`; no leading, trailing or doubled dot),
    where RFC 6531 also allows UTF-8 letters (`zoë.müller@web.de`); the domain is a host name with a
    top-level domain of two or more letters; at most 64 characters before the @ and 254 in all (RFC 5321).
    The quoted-string local part (`"john doe"@x.com`) and address literals are not accepted: CRMs reject them.
    email_quality() says why a value was not kept: blank, placeholder or invalid. Placeholders (vars
    placeholder_emails, placeholder_email_local_parts, placeholder_email_domains) are nulled and counted. -#}

{% macro email_candidate(expr) -%}
    {{ cdp_regex_replace_all('lower(trim(' ~ expr ~ '))', '^(mailto:)?<?|>$', '') }}
{%- endmacro %}

{#- The local part's characters: RFC 5322 atext (lower-cased) plus RFC 6531's non-ASCII characters. -#}
{% macro email_atext() -%}
    {{- return("[a-z0-9!#$%&'*+/=?^_`{|}~\\x{80}-\\x{10FFFF}-]") -}}
{%- endmacro %}

{#- raw: the raw value; candidate: the column holding email_candidate(). -#}
{% macro email_quality(raw, candidate) -%}
    {%- set local_parts = var('placeholder_email_local_parts') | join('|') | replace('.', '\\.') | replace('-', '\\-') -%}
    {%- set domains = var('placeholder_email_domains') | join('|') | replace('.', '\\.') | replace('-', '\\-') -%}
    {%- set atext = email_atext() -%}
    case
        when {{ clean_text(raw) }} is null then 'blank'
        when {{ candidate }} in ({% for v in var('placeholder_emails') %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})
            then 'placeholder'
        when {{ cdp_regex_matches(candidate, '^(' ~ local_parts ~ ')@|@(' ~ domains ~ ')$') }} then 'placeholder'
        when length({{ candidate }}) <= 254 and instr({{ candidate }}, '@') between 2 and 65
            and {{ cdp_regex_matches(candidate, '^' ~ atext ~ '+(\\.' ~ atext ~ '+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$') }}
            then 'valid'
        else 'invalid'
    end
{%- endmacro %}

{#- quality, candidate: the email_quality() and email_candidate() columns. -#}
{% macro normalised_email(quality, candidate) -%}
    case when {{ quality }} = 'valid' then {{ candidate }} end
{%- endmacro %}
