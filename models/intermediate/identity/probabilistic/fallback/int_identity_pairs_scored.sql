{#- No probabilistic scores: the tier is off (var identity_probabilistic_tier) or the target cannot run dbt Python
    models (Spark's session method). Same columns as ../python/int_identity_pairs_scored.py, no rows, so the review
    queue is empty and the deterministic graph stands alone. -#}
{%- set s = cdp_type_string() -%}
with final as (
    select
        cast(null as {{ s }}) as record_key_a,
        cast(null as {{ s }}) as record_key_b,
        cast(null as double) as match_probability,
        cast(null as double) as match_weight,
        {%- for c in ['name', 'email', 'email_domain', 'phone', 'city', 'country', 'postcode', 'date_of_birth', 'address',
                      'street_number', 'national_id'] %}
        cast(null as double) as mw_{{ c }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ ref('int_identity_match_records') }}
    where 1 = 0
)

select * from final
