{#- Identifier values that a reviewer's keep_apart decision takes out of the deterministic graph: the values both
    records of the pair carry (two people sharing one email or landline). Such a value joins nobody, so the two
    records fall apart unless another path still joins them (that pair is then listed in identity_review_queue
    with reason keep_apart_still_joined). Read by both connected-components passes. -#}
with decisions as (
    select * from {{ ref('int_identity_decisions') }}
    where is_applied and decision = 'keep_apart'
),

observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

final as (
    select distinct observed_a.identifier_num
    from decisions
    inner join observed as observed_a
        on observed_a.record_num = decisions.record_num_a
    inner join observed as observed_b
        on observed_b.record_num = decisions.record_num_b
        and observed_b.identifier_num = observed_a.identifier_num
)

select * from final
