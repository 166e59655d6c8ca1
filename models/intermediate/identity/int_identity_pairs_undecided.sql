{#- The probabilistic tier's scored pairs that no reviewer decided: a reviewer's decision on a pair replaces its
    score. Read by int_identity_cluster_edges (the confident ones join clusters) and identity_review_queue (the
    uncertain ones wait for a reviewer). -#}
with pairs as (
    select * from {{ ref('int_identity_pairs_scored') }}
),

decisions as (
    select * from {{ ref('int_identity_decisions') }}
    where is_applied
),

final as (
    select pairs.*
    from pairs
    left join decisions
        on decisions.record_key_a = pairs.record_key_a
        and decisions.record_key_b = pairs.record_key_b
    where decisions.record_key_a is null
)

select * from final
