{#- The identifier values that the records of int_identity_scope_records carried before this run: read from
    int_identifiers_observed as the previous run left it, before that model deletes the records' rows (it
    depends on this model). With the values those records carry after the run, they are every value whose
    observations change (int_identity_scope_values). Empty before the first build. -#}
{%- set observed = identity_stored('int_identifiers_observed') -%}
with scope as (
    select record_num from {{ ref('int_identity_scope_records') }}
),

{% if observed is not none %}
old_values as (
    select distinct stored.identifier_num
    from {{ observed }} as stored
    inner join scope
        on scope.record_num = stored.record_num
),
{% else %}
old_values as (
    select cast(null as bigint) as identifier_num from scope where 1 = 0
),
{% endif %}

final as (
    select identifier_num from old_values
)

select * from final
