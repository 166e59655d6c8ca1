{%- set raw_columns = raw_source('support_tickets').raw_columns -%}
{{ incremental_staging_config('support_tickets') }}
with source as (
    select * from {{ source('support', 'support_tickets') }} as source
    {{ raw_rows_to_stage() }}
),

{#- Each normalisation step is computed once, in its own CTE column, and referred to after (STYLE.md). -#}
stripped as (
    select
        *,
        {{ email_candidate('requester_email') }} as _email_candidate,
        {{ phone_stripped('requester_phone') }} as _phone_stripped
    from source
),

digits as (
    select
        *,
        {{ email_quality('requester_email', '_email_candidate') }} as _email_quality,
        {{ phone_digits('_phone_stripped') }} as _phone_digits
    from stripped
),

candidates as (
    select
        *,
        {#- tickets carry no country: only international numbers can be normalised -#}
        {{ phone_e164_candidate('_phone_stripped', '_phone_digits', 'cast(null as ' ~ cdp_type_string() ~ ')',
                                'cast(null as ' ~ cdp_type_string() ~ ')') }} as _phone_e164
    from digits
),

phones as (
    select
        candidates.*,
        {{ phone_quality('candidates.requester_phone', 'candidates._phone_digits', 'candidates._phone_e164',
                         'lengths.nsn_lengths', 'lengths.calling_code') }} as _phone_quality
    from candidates
    {{ phone_lengths_join('candidates._phone_e164', 'lengths') }}
),

typed as (
    select
        {{ clean_text('source.ticket_id') }} as support_ticket_id,
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as requester_email,
        source._email_quality as email_quality,
        {{ normalised_phone('source._phone_quality', 'source._phone_e164') }} as requester_phone,
        source._phone_quality as phone_quality,
        {{ clean_text('source.requester_name') }} as requester_name,
        {{ clean_text('source.subject') }} as subject,
        lower(trim(source.channel)) as channel,
        lower(trim(source.status)) as ticket_status,
        lower(trim(source.priority)) as priority,
        {{ cdp_parse_timestamp('source.created_at') }} as created_at,
        {{ cdp_parse_timestamp('source.solved_at') }} as solved_at,
        {{ cdp_try_cast('trim(source.satisfaction_score)', 'integer') }} as satisfaction_score,
        source.solved_at as raw_solved_at,
        source.satisfaction_score as raw_satisfaction_score,
        {{ raw_row_columns(raw_columns) }}
    from phones as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            ('support_ticket_id is null', 'missing_key'),
            ("coalesce(ticket_status, '') not in ('new', 'open', 'pending', 'on-hold', 'solved', 'closed')",
             'unknown_status'),
            ('created_at is null', 'unparseable_created_at'),
            (is_unparseable('raw_solved_at', 'solved_at'), 'unparseable_solved_at'),
            (is_unparseable('raw_satisfaction_score', 'satisfaction_score')
             ~ ' or satisfaction_score not between 1 and 5', 'invalid_satisfaction_score'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{ row_fate_for('support_tickets') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
