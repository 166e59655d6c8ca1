{%- set raw_columns = raw_source('email_consents').raw_columns -%}
{{ incremental_staging_config('email_consents') }}
with source as (
    select * from {{ source('email', 'email_consents') }} as source
    {{ raw_rows_to_stage() }}
),

{# The email, each step computed once in its own CTE column (CONTRIBUTING.md, "SQL shape"); see contact_points.sql. #}
{{ contact_point_ctes('source', email='email') }},

typed as (
    select
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,
        source._email_quality as email_quality,
        lower(trim(source.status)) as consent_status,
        {{ clean_text('source.source') }} as consent_source,
        {{ cdp_parse_timestamp('source.updated_at') }} as updated_at,
        {{ raw_row_columns(raw_columns) }}
    from contact_points as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            (raw_row_has_nul_byte('_raw_row'), 'nul_byte'),
            ('email is null', 'missing_usable_email'),
            ("coalesce(consent_status, '') not in ('subscribed', 'unsubscribed')", 'unknown_status'),
            ('updated_at is null', 'unparseable_updated_at'),
            (is_out_of_horizon('updated_at'), 'out_of_range_updated_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {#- consent rows are events: each distinct event is kept, only exact copies are dropped -#}
        {{ row_fate_for('email_consents') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at,
        _raw_row_hash as email_consent_event_id
    from checked
)

select * from final
