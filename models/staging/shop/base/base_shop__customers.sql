{%- set raw_columns = raw_source('shop_customers').raw_columns -%}
{{ incremental_staging_config('shop_customers') }}
with source as (
    select * from {{ source('shop', 'shop_customers') }} as source
    {{ raw_rows_to_stage() }}
),

{# Email and phone, each step computed once in its own CTE column (CONTRIBUTING.md, "SQL shape"); see contact_points.sql. #}
{{ contact_point_ctes('source', email='email', phone='phone', country='country') }},

typed as (
    select
        {{ clean_text('source.customer_id') }} as shop_customer_id,
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,
        source._email_quality as email_quality,
        {{ normalised_phone('source._phone_quality', 'source._phone_e164') }} as phone,
        source._phone_quality as phone_quality,
        {{ clean_text('source.first_name') }} as first_name,
        {{ clean_text('source.last_name') }} as last_name,
        {{ clean_text('source.city') }} as city,
        source.country_code as country,
        {{ parse_boolean('source.accepts_marketing') }} as accepts_marketing,
        {{ cdp_parse_timestamp('source.created_at') }} as created_at,
        {{ cdp_parse_timestamp('source.updated_at') }} as updated_at,
        source.created_at as raw_created_at,
        source.updated_at as raw_updated_at,
        {{ raw_row_columns(raw_columns) }}
    from contact_points as source
),

checked as (
    select
        *,
        {{ first_failing_reason([
            (raw_row_has_nul_byte('_raw_row'), 'nul_byte'),
            ('shop_customer_id is null', 'missing_key'),
            (is_unparseable('raw_updated_at', 'updated_at'), 'unparseable_updated_at'),
            (is_out_of_horizon('updated_at'), 'out_of_range_updated_at'),
            (is_unparseable('raw_created_at', 'created_at'), 'unparseable_created_at'),
            (is_out_of_horizon('created_at'), 'out_of_range_created_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{ row_fate_for('shop_customers') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
