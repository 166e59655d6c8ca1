{#- Every raw row that could not be used, with its source, the raw row exactly as delivered and the reason.
    A line the CSV reader could not split (raw.raw_rejects) is kept by place, not content: its raw_row is
    {file_name, line, error_type}, and its reason malformed_line_<the reader's error>. Rebuilt on each run: one filtered scan per base table (0.3-0.6 s at 100,000 persons), and a row removed
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

rejected_lines as (
    select
        rejects.source_name,
        cast(null as {{ cdp_type_string() }}) as source_record_id,
        'malformed_line_' || lower(replace(rejects.error_type, ' ', '_')) as quarantine_reason,
        {{ cdp_json_object(['file_name', 'line', 'error_type'], 'rejects') }} as raw_row,
        {{ cdp_md5(cdp_json_object(['file_name', 'line', 'error_type'], 'rejects')) }} as raw_row_hash
    from {{ source('raw_files', 'raw_rejects') }} as rejects
),

unioned as (
    {% for s in staged_sources() %}
    select * from {{ s.source_name }}
    union all
    {% endfor %}
    select * from rejected_lines
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
