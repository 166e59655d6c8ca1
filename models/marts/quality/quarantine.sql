{#- Every raw row that could not be used, with its source, the raw row exactly as delivered and the reason.
    Rebuilt on each run: one filtered scan per base table (0.3-0.6 s at 100,000 persons), and a row removed
    upstream or erased leaves no stored trace that an incremental scope could find without the same scan. -#}
with
{% for s in staged_sources() %}
{{ s.source_name }} as (
    select
        '{{ s.source_name }}' as source_name,
        cast({{ s.key }} as {{ cdp_type_string() }}) as source_record_id,
        _quarantine_reason as quarantine_reason,
        _raw_row as raw_row,
        _raw_row_hash as raw_row_hash
    from {{ ref(s.base) }}
    where _row_fate = 'quarantined'
),
{% endfor %}

unioned as (
    {% for s in staged_sources() %}
    select * from {{ s.source_name }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        {{ cdp_md5("source_name || '|' || raw_row_hash") }} as quarantine_id,
        source_name,
        source_record_id,
        quarantine_reason,
        raw_row
    from unioned
)

select * from final
