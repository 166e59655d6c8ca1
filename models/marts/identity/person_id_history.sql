{#- Every merge and split of person ids: from, to, when, why. Derived from the append-only id ledger. -#}
with ledger as (
    select * from {{ ref('int_person_ids_assigned') }}
),

changes as (
    select
        previous_person_id as from_person_id,
        person_id as to_person_id,
        assigned_at as changed_at,
        change_type,
        count(*) as records_moved
    from ledger
    where previous_person_id is not null
    group by previous_person_id, person_id, assigned_at, change_type
),

final as (
    select
        {{ cdp_md5("from_person_id || '>' || to_person_id || '@' || cast(changed_at as " ~ cdp_type_string() ~ ")") }}
            as person_id_change_id,
        from_person_id,
        to_person_id,
        changed_at,
        change_type,
        records_moved,
        case change_type
            when 'merge' then 'new records or identifiers connected the records of ' || from_person_id
                || ' to those of ' || to_person_id || ', whose id is older and survives'
            when 'split' then cast(records_moved as {{ cdp_type_string() }}) || ' records of ' || from_person_id
                || ' are no longer connected to its larger part and now belong to ' || to_person_id
        end as reason
    from changes
)

select * from final
