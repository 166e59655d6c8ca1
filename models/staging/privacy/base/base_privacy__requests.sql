{#- Every raw privacy request row, typed, with its fate. The request names a person by email and/or phone;
    those are kept only as salted hashes (macros/engine/privacy.sql), and the stored raw row is redacted,
    so the table that honours an erasure does not itself hold the erased identifiers. -#}
{%- set raw_columns = raw_source('privacy_requests').raw_columns -%}
{{ incremental_staging_config('privacy_requests') }}
with source as (
    select * from {{ source('privacy', 'privacy_requests') }} as source
    {{ raw_rows_to_stage() }}
),

{#- Each normalisation step is computed once, in its own CTE column, and referred to after (CONTRIBUTING.md, "SQL shape"). -#}
emails as (
    select
        *,
        {{ email_candidate('email') }} as _email_candidate,
        {{ cdp_regex_replace_all("coalesce(trim(phone), '')", '[^0-9+]', '') }} as _phone_stripped
    from source
),

checked_emails as (
    select
        *,
        {{ email_quality('email', '_email_candidate') }} as _email_quality,
        case
            when _phone_stripped like '+%' then '+' || {{ cdp_regex_replace_all('_phone_stripped', '[^0-9]', '') }}
            when _phone_stripped like '00%' then '+' || substr(_phone_stripped, 3)
        end as _phone_e164
    from emails
),

typed as (
    select
        {{ clean_text('source.request_id') }} as request_id,
        lower(trim(source.request_type)) as request_type,
        source._email_quality as email_quality,
        case when source._email_quality = 'valid' then
            {{ privacy_hash('email', normalised_email('source._email_quality', 'source._email_candidate')) }}
        end as email_hash,
        case when source._phone_e164 is not null then {{ privacy_hash('phone', 'source._phone_e164') }} end as phone_hash,
        source._phone_stripped <> '' as has_phone,
        {{ cdp_parse_timestamp('source.received_at') }} as received_at,
        {#- redacted raw row: what quarantine shows; the hash is of the row as delivered -#}
        {{ cdp_json_object(['request_id', 'request_type', 'received_at'], 'source') }} as _raw_row,
        {{ raw_row_hash(raw_columns) }} as _raw_row_hash
    from checked_emails as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            ('request_id is null', 'missing_key'),
            ("coalesce(request_type, '') not in ('erasure', 'suppression')", 'unknown_request_type'),
            ("email_hash is null and email_quality <> 'blank'", 'unusable_email'),
            ("email_hash is null and not has_phone", 'missing_email_and_phone'),
            ('has_phone and phone_hash is null', 'phone_not_international'),
            ('received_at is null', 'unparseable_received_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        request_id,
        request_type,
        email_hash,
        phone_hash,
        received_at,
        _raw_row,
        _raw_row_hash,
        _quarantine_reason,
        {{ privacy_request_fate() }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
