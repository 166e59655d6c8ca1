{{ profile_scoped_config() }}
{#- Every order of a resolved person, from every source that declares `orders` in the registry (order_sources):
    one shape (amount in the reporting currency, ordered_at, is_revenue) for lifetime value, order counts and the
    prediction models' order days, so a new transactional source counts once it is declared. Incremental by
    person (the profile scope). -#}
with person_records as (
    select * from {{ ref('person_records') }}
    where {{ in_scope('person_id') }}
),

{% for s in order_sources() %}
{{ s.source_name }}_orders as (
    select
        person_records.person_id,
        '{{ s.source_name }}' as source_name,
        cast(source.{{ s.record_id }} as {{ cdp_type_string() }}) as order_record_id,
        cast(source.{{ s.orders.ordered_at }} as {{ cdp_type_timestamp() }}) as ordered_at,
        cast({{ s.orders.amount }} as {{ cdp_type_amount() }}) as amount_reporting,
        coalesce({{ s.orders.is_revenue }}, false) as is_revenue
    from {{ ref(s.model) }} as source
    inner join person_records
        on person_records.source_name = '{{ s.source_name }}'
        and person_records.source_record_id = cast(source.{{ s.record_id }} as {{ cdp_type_string() }})
),

{% endfor %}
final as (
    {%- for s in order_sources() %}
    select * from {{ s.source_name }}_orders
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from final
