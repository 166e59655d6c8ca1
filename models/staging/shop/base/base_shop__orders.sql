{%- set raw_columns = raw_source('shop_orders').raw_columns -%}
{{ incremental_staging_config('shop_orders') }}
with source as (
    select * from {{ source('shop', 'shop_orders') }} as source
    {{ raw_rows_to_stage() }}
),

rates as (
    select * from {{ ref('currency_rates') }}
),

{# The email, each step computed once in its own CTE column (CONTRIBUTING.md, "SQL shape"), and the amount parsed once. #}
{{ contact_point_ctes('source', email='email',
                      extra={'_total_amount': cdp_try_cast('trim(source.total_amount)', cdp_type_amount())}) }},

typed as (
    select
        {{ clean_text('source.order_id') }} as shop_order_id,
        {{ clean_text('source.customer_id') }} as shop_customer_id,
        {{ normalised_email('source._email_quality', 'source._email_candidate') }} as email,
        source._email_quality as email_quality,
        lower(trim(source.status)) as order_status,
        upper(trim(source.currency)) as currency,
        source._total_amount as total_amount,
        cast(source._total_amount * rates.rate_to_reporting
            as {{ cdp_type_amount() }}) as total_amount_reporting,
        rates.currency is not null as has_known_currency,
        {{ cdp_parse_timestamp('source.ordered_at') }} as ordered_at,
        source.ordered_at as raw_ordered_at,
        source.total_amount as raw_total_amount,
        {{ raw_row_columns(raw_columns) }}
    from contact_points as source
    left join rates
        on upper(trim(source.currency)) = rates.currency
),

checked as (
    select
        *,
        {{ first_failing_reason([
            (raw_row_has_nul_byte('_raw_row'), 'nul_byte'),
            ('shop_order_id is null', 'missing_key'),
            ("coalesce(order_status, '') not in ('placed', 'paid', 'shipped', 'refunded', 'cancelled')",
             'unknown_status'),
            ("total_amount is null", 'unparseable_total_amount'),
            ('total_amount < 0', 'negative_total_amount'),
            ('not has_known_currency', 'unknown_currency'),
            ('ordered_at is null', 'unparseable_ordered_at'),
            (is_out_of_horizon('ordered_at'), 'out_of_range_ordered_at'),
        ]) }} as _quarantine_reason
    from typed
),

final as (
    select
        *,
        {{ row_fate_for('shop_orders') }} as _row_fate,
        {{ staged_as_of() }} as _staged_as_of,
        {{ staged_at() }} as _staged_at
    from checked
)

select * from final
