{#- Scope of int_identity_pairs_scored: the named records whose pairs could differ from a full scoring on this
    run. A pair's row is a function of its two records' compared attributes (int_identity_match_records, the
    cluster's fill included) and of the stored model, so the list is complete when it holds
    - the records whose attributes differ from the ones last scored, new records among them (reason changed);
    - the records last scored that are no longer named records (vanished: their pairs are deleted);
    - every record when the model was retrained since the last scoring, or nothing was scored yet (model).
    The last scoring's fingerprints are read by name as the previous run left them. -#}
{%- set stored = identity_stored('int_identity_match_fingerprints') -%}
{#- parsed without a warehouse: name the model outside the branch below, so dbt orders it first -#}
{%- set _model = ref('int_identity_match_model') -%}
with records as (
    select record_key, {{ identity_match_fingerprint('records') }} as fingerprint
    from {{ ref('int_identity_match_records') }} as records
),

model as (
    select max(trained_at) as model_trained_at from {{ ref('int_identity_match_model') }} where part = 'settings'
),

{% if stored is not none %}
stored as (
    select * from {{ stored }}
),

retrained as (
    select count(*) > 0 as is_retrained
    from model
    where model.model_trained_at is distinct from (select max(model_trained_at) from stored)
),

changed as (
    select records.record_key, case when retrained.is_retrained then 'model' else 'changed' end as reason
    from records
    cross join retrained
    left join stored
        on stored.record_key = records.record_key
    where retrained.is_retrained or stored.fingerprint is distinct from records.fingerprint
),

vanished as (
    select stored.record_key, 'vanished' as reason
    from stored
    left join records
        on records.record_key = stored.record_key
    where records.record_key is null
),
{% else %}
changed as (
    select record_key, 'model' as reason from records
),

vanished as (
    select record_key, reason from changed where 1 = 0
),
{% endif %}

final as (
    select * from changed
    union all
    select * from vanished
)

select * from final
