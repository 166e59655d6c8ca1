{#- Reviewers' identity decisions (raw identity_decisions.csv), typed and checked. A decision names two records by
    source and record id; it stays in force across rebuilds because it lives in the raw file, not in a table the
    build replaces. The pair is ordered (record_key_a < record_key_b) so a decision and its mirror image are one
    pair, and the latest valid decision on a pair is the one applied (is_applied). A row that cannot be applied
    keeps its reason in invalid_reason (shown, never dropped silently). -#}
{%- set known_sources = identifier_sources() | map(attribute='source_name') | list -%}
with source as (
    select * from {{ source('identity', 'identity_decisions') }}
),

typed as (
    select
        {{ clean_text('source_name_a') }} as source_name_a,
        {{ clean_text('source_record_id_a') }} as source_record_id_a,
        {{ clean_text('source_name_b') }} as source_name_b,
        {{ clean_text('source_record_id_b') }} as source_record_id_b,
        lower({{ clean_text('decision') }}) as decision,
        {{ clean_text('decided_by') }} as decided_by,
        {{ cdp_parse_timestamp('decided_at') }} as decided_at,
        decided_at as raw_decided_at
    from source
),

keyed as (
    select
        *,
        {{ record_node('source_name_a', 'source_record_id_a') }} as key_a,
        {{ record_node('source_name_b', 'source_record_id_b') }} as key_b
    from typed
),

checked as (
    select
        case when key_a < key_b then key_a else key_b end as record_key_a,
        case when key_a < key_b then key_b else key_a end as record_key_b,
        decision,
        decided_by,
        decided_at,
        case
            when source_record_id_a is null or source_record_id_b is null
                or source_name_a is null or source_name_b is null then 'missing_record'
            when source_name_a not in ('{{ known_sources | join("', '") }}')
                or source_name_b not in ('{{ known_sources | join("', '") }}') then 'unknown_source'
            when key_a = key_b then 'same_record'
            when decision is null or decision not in ('merge', 'keep_apart') then 'unknown_decision'
            when decided_at is null then 'unparseable_decided_at'
        end as invalid_reason
    from keyed
),

ranked as (
    select
        *,
        row_number() over (
            partition by record_key_a, record_key_b, invalid_reason is null
            order by decided_at desc, decision, decided_by
        ) as recency
    from checked
),

final as (
    select
        record_key_a,
        record_key_b,
        {{ record_node_id('record_key_a') }} as record_num_a,
        {{ record_node_id('record_key_b') }} as record_num_b,
        decision,
        decided_by,
        decided_at,
        invalid_reason,
        invalid_reason is null and recency = 1 as is_applied
    from ranked
)

select * from final
