{#- Where each merged-away person id lives now, so journey and segment history recorded under an old id
    carries over to the surviving person (a merge is no transition). Follows merges up to four hops
    (a chain longer than that in one person's lifetime is not expected; deeper ids keep their own history). -#}
with merges as (
    select from_person_id, to_person_id, changed_at
    from {{ ref('person_id_history') }}
    where change_type = 'merge'
),

latest_merge as (
    select from_person_id, to_person_id
    from (
        select
            merges.*,
            row_number() over (partition by from_person_id order by changed_at desc, to_person_id) as recency_rank
        from merges
    ) ranked
    where recency_rank = 1
),

final as (
    select
        hop1.from_person_id as old_person_id,
        coalesce(hop4.to_person_id, hop3.to_person_id, hop2.to_person_id, hop1.to_person_id) as current_person_id
    from latest_merge as hop1
    left join latest_merge as hop2 on hop2.from_person_id = hop1.to_person_id
    left join latest_merge as hop3 on hop3.from_person_id = hop2.to_person_id
    left join latest_merge as hop4 on hop4.from_person_id = hop3.to_person_id
)

select * from final
