{%- set raw_columns = raw_source('web_events').raw_columns -%}
{{ incremental_staging_config('web_events') }}
with source as (
    select * from {{ source('web', 'web_events') }} as source
    {{ raw_rows_to_stage() }}
),

{# The email, each step computed once in its own CTE column (CONTRIBUTING.md, "SQL shape"); see contact_points.sql. #}
{{ contact_point_ctes('source', email='email') }},

typed as (
    select
        {{ clean_text('source.event_id') }} as web_event_id,
        {{ clean_text('source.anonymous_id') }} as anonymous_id,
        {{ clean_text('source.user_id') }} as user_id,
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,
        source._email_quality as email_quality,
        lower(trim(source.event_type)) as event_type,
        {{ clean_text('source.event_name') }} as event_name,
        {{ clean_text('source.page_url') }} as page_url,
        {{ cdp_parse_timestamp('source.occurred_at') }} as occurred_at,
        {{ raw_row_columns(raw_columns) }}
    from contact_points as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            (raw_row_has_nul_byte('_raw_row'), 'nul_byte'),
            ('web_event_id is null', 'missing_key'),
            ("coalesce(event_type, '') not in ('page', 'track', 'identify')", 'unknown_event_type'),
            ('occurred_at is null', 'unparseable_occurred_at'),
            (is_out_of_horizon('occurred_at'), 'out_of_range_occurred_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{ row_fate_for('web_events') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
