{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    post_hook='{{ purge_erased_records() }}',
) }}
{#- The person-id ledger: append-only, one row each time a record gets a (new) person id. The current
    id of a record is its latest row. Append-only works on every engine and keeps the full history.
    full_refresh=false protects it: `dbt build --full-refresh` never reissues ids.

    Rules, applied to each cluster of this run against the ledger:
    - a cluster containing records that had ids keeps one of them; an old id whose records now sit in
      several clusters belongs to the cluster holding most of them (a split: the larger part keeps it);
    - a cluster that owns several old ids keeps the oldest (a merge: first issued wins; ties by id);
    - a cluster owning no old id gets a new id. On the first build new ids derive from the cluster;
      later ones are salted with the run's start time, so an id is never issued twice. -#}
{%- set run_ts = "cast('" ~ run_started_at.strftime('%Y-%m-%d %H:%M:%S') ~ "' as " ~ cdp_type_timestamp() ~ ")" -%}
{%- set salt = run_started_at.strftime('%Y-%m-%dT%H:%M:%S.%f') if is_incremental() else '' -%}
{%- set _scope = ref('int_identity_scope_resolved') -%}
{%- set restricted = is_incremental() and not flags.FULL_REFRESH -%}
{% if restricted %}
{#- Only the clusters in play are read. After every run all records of a cluster hold its id, so a cluster
    none of whose records is in int_identity_scope_resolved (changed, vanished or moved to another cluster)
    and none of whose records held an id that such a record holds is a previous cluster whole, with its own
    id: the rules give it that id again and append nothing. The clusters in play are the clusters of those
    records; each prev id of theirs has all its records among them (an id none of the scope's records held
    sits on records of one unchanged cluster id), so ownership counts and id ages are the full build's. -#}
with resolved as (
    select record_key, cluster_id
    from {{ ref('int_records_resolved') }}
),

ledger_all as (
    select record_key, person_id, assigned_at from {{ this }}
),

scope_records as (
    select record_key from {{ ref('int_identity_scope_resolved') }}
),

scope_ids as (
    select distinct ledger_all.person_id
    from ledger_all
    inner join scope_records
        on scope_records.record_key = ledger_all.record_key
),

id_records as (
    select record_key from scope_records
    union
    select ledger_all.record_key
    from ledger_all
    inner join scope_ids
        on scope_ids.person_id = ledger_all.person_id
),

clusters_in_play as (
    select distinct resolved.cluster_id
    from resolved
    inner join id_records
        on id_records.record_key = resolved.record_key
),

clusters as (
    select resolved.record_key, resolved.cluster_id
    from resolved
    inner join clusters_in_play
        on clusters_in_play.cluster_id = resolved.cluster_id
),

ledger as (
    select ledger_all.record_key, ledger_all.person_id, ledger_all.assigned_at
    from ledger_all
    inner join clusters
        on clusters.record_key = ledger_all.record_key
),

current_ids as (
    {{ latest_person_ids('ledger') }}
),

id_age as (
    select ledger_all.person_id, min(ledger_all.assigned_at) as first_assigned_at
    from ledger_all
    where ledger_all.person_id in (select person_id from current_ids)
    group by ledger_all.person_id
),
{% else %}
with clusters as (
    select record_key, cluster_id
    from {{ ref('int_records_resolved') }}
),

{#- the first build, or --full-refresh (every cluster against the whole ledger, which it never rebuilds) -#}
{% if is_incremental() %}
ledger as (
    select record_key, person_id, assigned_at from {{ this }}
),
{% else %}
ledger as (
    select
        cast(null as {{ cdp_type_string() }}) as record_key,
        cast(null as {{ cdp_type_string() }}) as person_id,
        cast(null as {{ cdp_type_timestamp() }}) as assigned_at
    from clusters
    where 1 = 0
),
{% endif %}

current_ids as (
    {{ latest_person_ids('ledger') }}
),

id_age as (
    select person_id, min(assigned_at) as first_assigned_at
    from ledger
    group by person_id
),
{% endif %}

joined as (
    select
        clusters.record_key,
        clusters.cluster_id,
        current_ids.person_id as previous_person_id
    from clusters
    left join current_ids
        on current_ids.record_key = clusters.record_key
),

cluster_previous_ids as (
    select cluster_id, previous_person_id, count(*) as record_count
    from joined
    where previous_person_id is not null
    group by cluster_id, previous_person_id
),

id_owners as (
    select
        previous_person_id,
        cluster_id,
        row_number() over (
            partition by previous_person_id order by record_count desc, cluster_id
        ) as ownership_rank
    from cluster_previous_ids
),

survivors as (
    select
        id_owners.cluster_id,
        id_owners.previous_person_id as person_id,
        row_number() over (
            partition by id_owners.cluster_id order by id_age.first_assigned_at, id_owners.previous_person_id
        ) as survivor_rank
    from id_owners
    inner join id_age
        on id_age.person_id = id_owners.previous_person_id
    where id_owners.ownership_rank = 1
),

cluster_ids as (
    select
        all_clusters.cluster_id,
        coalesce(
            survivors.person_id,
            'per_' || substr({{ cdp_md5("cast(all_clusters.cluster_id as " ~ cdp_type_string() ~ ") || '" ~ salt ~ "'") }}, 1, 20)
        ) as person_id
    from (select distinct cluster_id from clusters) as all_clusters
    left join survivors
        on survivors.cluster_id = all_clusters.cluster_id
        and survivors.survivor_rank = 1
),

alive_ids as (
    select distinct person_id from cluster_ids
),

assigned as (
    select
        joined.record_key,
        cluster_ids.person_id,
        joined.previous_person_id,
        alive_ids.person_id is not null as previous_id_survives
    from joined
    inner join cluster_ids
        on cluster_ids.cluster_id = joined.cluster_id
    left join alive_ids
        on alive_ids.person_id = joined.previous_person_id
),

final as (
    select
        record_key,
        person_id,
        previous_person_id,
        case
            when previous_person_id is null then 'new'
            when previous_id_survives then 'split'
            else 'merge'
        end as change_type,
        {{ run_ts }} as assigned_at
    from assigned
    where previous_person_id is null
        or previous_person_id <> person_id
)

select * from final
