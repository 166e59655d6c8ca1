{{ profile_scoped_config() }}
{{ config(post_hook="{{ forget_vanished_scope_persons('int_profile_scope_persons') }}") }}
{#- What the last build saw of each person, which the next run's profile scope (int_profile_scope_persons)
    compares with: record_count and record_fingerprint (the set of record keys), staged_through (the latest
    `_staged_at` of the profile sources' base tables when the row was written) and definition_hash (the SQL and
    vars the stored per-person models were built from). Built after every model that reads the scope
    (depends_on int_profiles_scored, which reads them all), so the state advances only when they all
    succeeded: if one fails, the next run's scope lists the same persons again. Its post-hook then drops the
    vanished persons from the scope table (forget_vanished_scope_persons: an erased person's id must not stay). -#}
-- depends_on: {{ ref('int_profiles_scored') }}
with person_records as (
    select * from {{ ref('person_records') }}
    where {{ in_scope('person_id') }}
),

staged_through as (
    select greatest(
        {%- for s in profile_scope_sources() %}
        (select max(_staged_at) from {{ ref(s.base) }}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as staged_through
),

final as (
    select
        person_records.person_id,
        count(*) as record_count,
        sum({{ cdp_fingerprint_hash('person_records.record_key') }}) as record_fingerprint,
        max(staged_through.staged_through) as staged_through,
        '{{ profile_scope_definition_hash() }}' as definition_hash
    from person_records
    cross join staged_through
    group by person_records.person_id
)

select * from final
