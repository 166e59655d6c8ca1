{%- set raw_columns = raw_source('support_tickets').raw_columns -%}
{{ incremental_staging_config('support_tickets') }}
with source as (
    select * from {{ source('support', 'support_tickets') }} as source
    {{ raw_rows_to_stage() }}
),

{# Email and phone, each step computed once in its own CTE column (CONTRIBUTING.md, "SQL shape"); tickets carry no country, so
    only international numbers can be normalised. #}
{{ contact_point_ctes('source', email='requester_email', phone='requester_phone') }},

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
    from contact_points as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            (raw_row_has_nul_byte('_raw_row'), 'nul_byte'),
            ('support_ticket_id is null', 'missing_key'),
            ("coalesce(ticket_status, '') not in ('new', 'open', 'pending', 'on-hold', 'solved', 'closed')",
             'unknown_status'),
            ('created_at is null', 'unparseable_created_at'),
            (is_out_of_horizon('created_at'), 'out_of_range_created_at'),
            (is_unparseable('raw_solved_at', 'solved_at'), 'unparseable_solved_at'),
            (is_out_of_horizon('solved_at'), 'out_of_range_solved_at'),
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
