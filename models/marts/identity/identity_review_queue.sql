{#- Pairs of records a reviewer should look at: the probabilistic tier scored them between var review_threshold and
    var auto_merge_threshold (uncertain_match), they are still in different persons, and no reviewer decided them;
    plus keep_apart decisions whose two records are still one person through another shared identifier
    (keep_apart_still_joined). Both records' compared attributes, the match weight and each comparison's
    contribution in bits (the terms of Splink's waterfall chart: prior + contributions = match weight). A decision
    goes back as a row of identity_decisions.csv naming the two records. -#}
{%- set auto_merge = var('auto_merge_threshold') | float -%}
{%- set contributions = ['name', 'email', 'email_domain', 'phone', 'city', 'country'] -%}
with pairs as (
    select * from {{ ref('int_identity_pairs_undecided') }}
    where match_probability < {{ auto_merge }}
        and match_probability >= {{ var('review_threshold') | float }}
),

decisions as (
    select * from {{ ref('int_identity_decisions') }}
    where is_applied
),

records as (
    select * from {{ ref('int_identity_match_records') }}
),

resolved as (
    select * from {{ ref('int_records_resolved') }}
),

undecided as (
    select
        record_key_a,
        record_key_b,
        'uncertain_match' as reason,
        match_probability,
        match_weight,
        {%- for c in contributions %}
        mw_{{ c }}{{ ',' if not loop.last }}
        {%- endfor %}
    from pairs
),

still_joined as (
    select
        decisions.record_key_a,
        decisions.record_key_b,
        'keep_apart_still_joined' as reason,
        cast(null as double) as match_probability,
        cast(null as double) as match_weight,
        {%- for c in contributions %}
        cast(null as double) as mw_{{ c }}{{ ',' if not loop.last }}
        {%- endfor %}
    from decisions
    inner join resolved as resolved_a
        on resolved_a.record_key = decisions.record_key_a
    inner join resolved as resolved_b
        on resolved_b.record_key = decisions.record_key_b
    where decisions.decision = 'keep_apart'
        and resolved_a.cluster_id = resolved_b.cluster_id
),

queued as (
    select * from undecided
    union all
    select * from still_joined
),

final as (
    select
        queued.reason,
        records_a.source_name as source_name_a,
        records_a.source_record_id as source_record_id_a,
        records_b.source_name as source_name_b,
        records_b.source_record_id as source_record_id_b,
        queued.match_probability,
        queued.match_weight,
        {%- for c in contributions %}
        queued.mw_{{ c }},
        {%- endfor %}
        {%- for c in ['first_name', 'last_name', 'email', 'phone', 'city', 'country'] %}
        records_a.{{ c }} as {{ c }}_a,
        records_b.{{ c }} as {{ c }}_b,
        {%- endfor %}
        queued.record_key_a,
        queued.record_key_b
    from queued
    left join records as records_a
        on records_a.record_key = queued.record_key_a
    left join records as records_b
        on records_b.record_key = queued.record_key_b
    inner join resolved as resolved_a
        on resolved_a.record_key = queued.record_key_a
    inner join resolved as resolved_b
        on resolved_b.record_key = queued.record_key_b
    where queued.reason = 'keep_apart_still_joined'
        or resolved_a.cluster_id <> resolved_b.cluster_id
)

select * from final
