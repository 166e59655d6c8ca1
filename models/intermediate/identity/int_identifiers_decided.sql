{#- Merge rules, second pass, for weak identifiers (phone, anonymous_id). A weak value may join the strong
    clusters its records belong to only if that cannot be two people: the clusters' known first names
    agree, and together they hold no more values of any strong type than one person may (max_per_person;
    e.g. two shop accounts). A landline shared by a household, a browser shared by two customers, fails:
    it is not used to merge (decision bridges_clusters). A person whose CRM record has a work email and
    whose shop account a personal one passes, joined by their phone. Strong values keep their decision. -#}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

screened as (
    select * from {{ ref('int_identifiers_screened') }}
),

strong_clusters as (
    select * from {{ ref('int_records_clustered_strong') }}
),

used_observations as (
    select
        observed.record_num,
        observed.identifier_type,
        observed.identifier_num,
        screened.is_strong
    from observed
    inner join screened
        on screened.identifier_num = observed.identifier_num
    where screened.decision = 'used'
),

records_with_strong_identifier as (
    select distinct record_num
    from used_observations
    where is_strong
),

types as (
    {{ identifier_types_relation() }}
),

named as (
    select * from {{ ref('int_records_named') }}
),

cluster_names as (
    select distinct strong_clusters.component_id, named.first_name
    from named
    inner join strong_clusters
        on strong_clusters.node = named.record_num
),

cluster_strong_values as (
    select
        strong_clusters.component_id,
        used_observations.identifier_type,
        count(distinct used_observations.identifier_num) as value_count
    from used_observations
    inner join strong_clusters
        on strong_clusters.node = used_observations.record_num
    where used_observations.is_strong
    group by strong_clusters.component_id, used_observations.identifier_type
),

weak_touches as (
    select distinct
        used_observations.identifier_num,
        strong_clusters.component_id
    from used_observations
    inner join records_with_strong_identifier
        on records_with_strong_identifier.record_num = used_observations.record_num
    inner join strong_clusters
        on strong_clusters.node = used_observations.record_num
    where not used_observations.is_strong
),

weak_name_conflicts as (
    select weak_touches.identifier_num,
        count(distinct cluster_names.first_name) as first_name_count
    from weak_touches
    inner join cluster_names
        on cluster_names.component_id = weak_touches.component_id
    group by weak_touches.identifier_num
),

weak_limit_conflicts as (
    select
        summed.identifier_num,
        max(case when summed.value_count > types.max_per_person then 1 else 0 end) as exceeds_limit
    from (
        select
            weak_touches.identifier_num,
            cluster_strong_values.identifier_type as strong_type,
            sum(cluster_strong_values.value_count) as value_count
        from weak_touches
        inner join cluster_strong_values
            on cluster_strong_values.component_id = weak_touches.component_id
        group by weak_touches.identifier_num, cluster_strong_values.identifier_type
    ) as summed
    inner join types
        on types.identifier_type = summed.strong_type
    group by summed.identifier_num
),

weak_reach as (
    select
        weak_touches.identifier_num,
        count(*) as strong_cluster_count,
        max(coalesce(weak_name_conflicts.first_name_count, 0)) as first_name_count,
        max(coalesce(weak_limit_conflicts.exceeds_limit, 0)) as exceeds_limit
    from weak_touches
    left join weak_name_conflicts
        on weak_name_conflicts.identifier_num = weak_touches.identifier_num
    left join weak_limit_conflicts
        on weak_limit_conflicts.identifier_num = weak_touches.identifier_num
    group by weak_touches.identifier_num
),

weak_conflicts as (
    select *
    from weak_reach
    where strong_cluster_count > 1
        and (first_name_count > 1 or exceeds_limit = 1)
),

final as (
    select
        screened.identifier_type,
        screened.identifier_value,
        screened.identifier_num,
        screened.record_count,
        screened.is_strong,
        case
            when weak_conflicts.identifier_num is not null then 'bridges_clusters'
            else screened.decision
        end as decision,
        case
            when weak_conflicts.identifier_num is not null then
                'would join ' || cast(weak_conflicts.strong_cluster_count as {{ cdp_type_string() }})
                || ' clusters known by strong identifiers with '
                || case when weak_conflicts.first_name_count > 1
                    then cast(weak_conflicts.first_name_count as {{ cdp_type_string() }}) || ' different first names'
                    else 'more strong identifiers than one person holds' end
                || ' (shared household or device)'
            else screened.decision_detail
        end as decision_detail
    from screened
    left join weak_conflicts
        on weak_conflicts.identifier_num = screened.identifier_num
)

select * from final
