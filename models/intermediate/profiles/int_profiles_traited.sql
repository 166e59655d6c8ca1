{#- One row per person: golden attributes plus behavioural traits. "Now" is CDP_AS_OF (cdp_as_of_cut), or when unset the
    latest order (of every order source), event or ticket in the data, so results do not drift with the wall clock.
    Computed in full on every run, from stored per-person rows: the time-independent traits come from
    int_profile_traits_summarised and the golden attributes from int_profile_attributes_survived (both incremental by
    person). What is computed here moves for everybody or depends on other persons, so no per-person scope
    could keep it: "days since" and the 30-day web windows move with the as-of instant (by default the data's
    latest event, which a day of new data moves), RFM quintiles rank every buyer, and consent is per golden
    address (a consent event is keyed by address, not by a person's record, so a person's consent can change
    without any of their records changing). Each is one pass over a per-person table or over the last 30 days'
    stored events (int_web_events_sessionised), not a join of every source to person_records. -#}
{%- set as_of_var = cdp_as_of_cut() -%}
with summarised as (
    select * from {{ ref('int_profile_traits_summarised') }}
),

golden as (
    select * from {{ ref('int_profile_attributes_survived') }}
),

events as (
    select * from {{ ref('stg_web__events') }}
),

tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

consents as (
    select * from {{ ref('stg_email__consents') }}
),

as_of as (
    select
        {%- if as_of_var %}
        cast('{{ as_of_var }}' as {{ cdp_type_timestamp() }}) as as_of_at
        {%- else %}
        greatest(
            {%- for s in order_sources() %}
            coalesce((select max(cast({{ s.orders.ordered_at }} as {{ cdp_type_timestamp() }})) from {{ ref(s.model) }}),
                cast('1970-01-01' as {{ cdp_type_timestamp() }})),
            {%- endfor %}
            coalesce((select max(occurred_at) from events), cast('1970-01-01' as {{ cdp_type_timestamp() }})),
            coalesce((select max(created_at) from tickets), cast('1970-01-01' as {{ cdp_type_timestamp() }}))
        ) as as_of_at
        {%- endif %}
),

recent_web as (
    select web_events.person_id, web_events.is_session_start
    from {{ ref('int_web_events_sessionised') }} as web_events
    cross join as_of
    where web_events.occurred_at >= {{ cdp_add_days('as_of.as_of_at', -30) }}
),

person_web as (
    select
        person_id,
        sum(1) as web_events_30d,  -- a sum: the contract's type (count would be a bigint on DuckDB)
        sum(case when is_session_start then 1 else 0 end) as web_sessions_30d
    from recent_web
    group by person_id
),

{#- consent per address: the latest consent event of the golden email, the address the syncs send (an opt-in
    of another of the person's addresses says nothing about this one); at equal times unsubscribe wins -#}
person_consent_events as (
    select
        golden.person_id,
        consents.consent_status,
        row_number() over (
            partition by golden.person_id
            order by consents.updated_at desc,
                case consents.consent_status when 'unsubscribed' then 0 else 1 end,
                consents.email_consent_event_id
        ) as recency
    from consents
    inner join golden
        on golden.email = consents.email
),

person_consent as (
    select person_id, consent_status as email_consent
    from person_consent_events
    where recency = 1
),

combined as (
    {#- every stored per-person trait passes through: a trait added to int_profile_traits_summarised needs no
        edit here -#}
    select
        summarised.*,
        {%- for attribute in var('survivorship') %}
        golden.{{ attribute }},
        {%- endfor %}
        '{{ var("reporting_currency") }}' as reporting_currency,
        {{ cdp_days_between('summarised.last_order_at', 'as_of.as_of_at') }} as days_since_last_order,
        {{ cdp_days_between('summarised.first_order_at', 'as_of.as_of_at') }} as days_since_first_order,
        coalesce(person_web.web_events_30d, 0) as web_events_30d,
        coalesce(person_web.web_sessions_30d, 0) as web_sessions_30d,
        coalesce(person_consent.email_consent, 'unknown') as email_consent,
        as_of.as_of_at
    from summarised
    cross join as_of
    left join golden on golden.person_id = summarised.person_id
    left join person_web on person_web.person_id = summarised.person_id
    left join person_consent on person_consent.person_id = summarised.person_id
),

{#- RFM quintiles among buyers (5 is best); ties broken by person_id so scores are deterministic -#}
rfm as (
    select
        person_id,
        ntile(5) over (order by last_order_at, person_id) as rfm_recency_score,
        ntile(5) over (order by order_count, lifetime_value, person_id) as rfm_frequency_score,
        ntile(5) over (order by lifetime_value, order_count, person_id) as rfm_monetary_score
    from combined
    where order_count > 0
),

final as (
    select
        combined.*,
        rfm.rfm_recency_score,
        rfm.rfm_frequency_score,
        rfm.rfm_monetary_score
    from combined
    left join rfm on rfm.person_id = combined.person_id
)

select * from final
