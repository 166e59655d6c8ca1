{#- Persons under a suppression request: their data stays in the warehouse, but no sync model sends them
    (int_profiles_for_crm leaves them out, so each sync removes them where they were sent: archive, or a
    webhook delete). Matched on this build's identity graph by the request's salted email/phone hashes. -#}
with requests as (
    select request_id, email_hash, phone_hash
    from {{ ref('stg_privacy__requests') }}
    where request_type = 'suppression'
),

request_hashes as (
    select request_id, 'email' as identifier_type, email_hash as identifier_hash from requests where email_hash is not null
    union all
    select request_id, 'phone' as identifier_type, phone_hash as identifier_hash from requests where phone_hash is not null
),

identifiers as (
    select
        person_id,
        identifier_type,
        {{ privacy_hash_sql('identifier_type', 'identifier_value') }} as identifier_hash
    from {{ ref('identity_graph') }}
    where identifier_type in ('email', 'phone')
        and exists (select 1 from requests)
),

final as (
    select distinct
        identifiers.person_id,
        request_hashes.request_id
    from request_hashes
    inner join identifiers
        on identifiers.identifier_type = request_hashes.identifier_type
        and identifiers.identifier_hash = request_hashes.identifier_hash
)

select * from final
