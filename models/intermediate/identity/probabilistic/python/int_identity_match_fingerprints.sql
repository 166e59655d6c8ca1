{#- What the probabilistic tier scored last: each named record's compared attributes as one MD5 (no value kept)
    and the model it was scored with. Built after int_identity_pairs_scored; int_identity_scope_match_records
    reads it by name on the next run (before this model replaces it) to find the records that changed. -#}
-- depends_on: {{ ref('int_identity_pairs_scored') }}
with records as (
    select * from {{ ref('int_identity_match_records') }}
),

model as (
    select max(trained_at) as model_trained_at from {{ ref('int_identity_match_model') }} where part = 'settings'
),

final as (
    select
        records.record_key,
        {{ identity_match_fingerprint('records') }} as fingerprint,
        model.model_trained_at
    from records
    cross join model
)

select * from final
