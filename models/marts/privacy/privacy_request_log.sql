{#- The audit of every privacy request: what was asked, when, what it matched and what became of it. No
    PII: identifiers only appear as salted hashes in the ledger, and persons only as counts. Per-destination
    confirmations land in cdp_sync.privacy_destination_log as each sync deletes (cdp privacy log joins both). -#}
with requests as (
    select * from {{ ref('base_privacy__requests') }}
    where _row_fate in ('staged', 'quarantined')
),

ledger as (
    select * from {{ ref('privacy_erased_identifiers') }}
),

erased as (
    select
        request_id,
        count(distinct person_hash) as persons_matched,
        count(distinct case when identifier_type = 'record_key' then identifier_hash end) as records_matched,
        min(erased_at) as erased_at
    from ledger
    group by request_id
),

{#- erasing twice is harmless: a request matching nobody now whose identifiers an earlier request erased -#}
erased_before as (
    select distinct later.request_id
    from ledger as later
    inner join ledger as earlier
        on earlier.identifier_type = later.identifier_type
        and earlier.identifier_hash = later.identifier_hash
        and earlier.request_id <> later.request_id
        and earlier.erased_at <= later.erased_at
        and earlier.person_hash is not null
),

suppressed as (
    select
        suppressed.request_id,
        count(distinct suppressed.person_id) as persons_matched,
        count(distinct records.record_key) as records_matched
    from {{ ref('privacy_suppressed_persons') }} as suppressed
    inner join {{ ref('person_records') }} as records
        on records.person_id = suppressed.person_id
    group by suppressed.request_id
),

final as (
    select
        requests.request_id,
        requests.request_type,
        requests.received_at,
        case
            when requests._row_fate = 'quarantined' then 'quarantined'
            when coalesce(erased.persons_matched, suppressed.persons_matched, 0) > 0 then
                case requests.request_type when 'erasure' then 'erased' else 'suppressed' end
            when erased_before.request_id is not null then 'already_erased'
            else 'no_match'
        end as status,
        requests._quarantine_reason as quarantine_reason,
        coalesce(erased.persons_matched, suppressed.persons_matched, 0) as persons_matched,
        coalesce(erased.records_matched, suppressed.records_matched, 0) as records_matched,
        erased.erased_at
    from requests
    left join erased
        on erased.request_id = requests.request_id
    left join erased_before
        on erased_before.request_id = requests.request_id
    left join suppressed
        on suppressed.request_id = requests.request_id
)

select * from final
