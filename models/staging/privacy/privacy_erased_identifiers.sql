{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
) }}
{#- The erasure ledger: append-only, every identifier of every erased person as a salted hash, so that rows
    carrying them are deleted from the base_ tables on this and every later build (macros/privacy). It sits in
    staging because the staging step (Dagster) must build it before the base_ models it filters.
    full_refresh=false protects it: a full refresh must not bring erased people back.

    A new erasure request resolves through the identity graph of the previous build (person_records and
    int_identifiers_observed, read by name: this build's graph is made from rows this ledger filters)
    to each matched person's every identifier, record key and person id. A warehouse that was never built has
    no graph: `cdp build` and the Dagster staging step then build it first (cdp/first_erasure.py); a plain
    `dbt build` of a new warehouse erases only the rows carrying the request's own email and phone. Types: the identifier types, plus
    record_key and person_id. -#}
{%- set observed = adapter.get_relation(this.database, this.schema, 'int_identifiers_observed') if execute else none -%}
{%- set records = adapter.get_relation(this.database, this.schema, 'person_records') if execute else none -%}
{%- set erased_at = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ cdp_type_timestamp() ~ ")" -%}
with requests as (
    select request_id, email_hash, phone_hash
    from {{ ref('stg_privacy__requests') }}
    where request_type = 'erasure'
    {%- if is_incremental() %}
        and request_id not in (select request_id from {{ this }})
    {%- endif %}
),

request_hashes as (
    select request_id, 'email' as identifier_type, email_hash as identifier_hash
    from requests
    where email_hash is not null
    union all
    select request_id, 'phone' as identifier_type, phone_hash as identifier_hash
    from requests
    where phone_hash is not null
),

{% if observed is not none and records is not none %}
previous as (
    select
        observed.record_key,
        records.person_id,
        observed.identifier_type,
        {{ privacy_hash_sql('observed.identifier_type', 'observed.identifier_value') }} as identifier_hash
    from {{ observed }} as observed
    inner join {{ records }} as records
        on records.record_key = observed.record_key
    where exists (select 1 from requests)
),

matched_persons as (
    select distinct request_hashes.request_id, previous.person_id
    from request_hashes
    inner join previous
        on previous.identifier_type = request_hashes.identifier_type
        and previous.identifier_hash = request_hashes.identifier_hash
),

person_rows as (
    select distinct matched_persons.request_id, matched_persons.person_id, previous.record_key,
        previous.identifier_type, previous.identifier_hash
    from matched_persons
    inner join previous
        on previous.person_id = matched_persons.person_id
),

resolved as (
    select request_id, person_id, identifier_type, identifier_hash from person_rows
    union
    select request_id, person_id, 'record_key' as identifier_type, {{ privacy_hash('record_key', 'record_key') }}
    from person_rows
    union
    select request_id, person_id, 'person_id' as identifier_type, {{ privacy_hash('person_id', 'person_id') }}
    from matched_persons
),
{% else %}
resolved as (
    select
        cast(null as {{ cdp_type_string() }}) as request_id,
        cast(null as {{ cdp_type_string() }}) as person_id,
        cast(null as {{ cdp_type_string() }}) as identifier_type,
        cast(null as {{ cdp_type_string() }}) as identifier_hash
    from requests
    where 1 = 0
),
{% endif %}

unioned as (
    select request_id, cast(null as {{ cdp_type_string() }}) as person_id, identifier_type, identifier_hash
    from request_hashes
    union
    select request_id, person_id, identifier_type, identifier_hash from resolved
),

final as (
    select distinct
        request_id,
        identifier_type,
        identifier_hash,
        case when person_id is not null then {{ privacy_hash('person_id', 'person_id') }} end as person_hash,
        {{ erased_at }} as erased_at
    from unioned
)

select * from final
