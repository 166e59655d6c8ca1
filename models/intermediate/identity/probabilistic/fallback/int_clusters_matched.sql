{#- No joined clusters: the tier is off or the target cannot run dbt Python models (see
    ../python/int_clusters_matched.py); every deterministic cluster is its own person. -#}
{%- set s = cdp_type_string() -%}
with final as (
    select
        cast(null as bigint) as node,
        cast(null as bigint) as component_id,
        cast(null as {{ s }}) as join_kind,
        cast(null as double) as join_probability,
        cast(null as {{ s }}) as join_record_key_a,
        cast(null as {{ s }}) as join_record_key_b
    from {{ ref('int_identity_cluster_edges') }}
    where 1 = 0
)

select * from final
