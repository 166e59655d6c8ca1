{#- First names of records, from the sources that declare one (source registry var raw_sources, key first_name).
    Used only as a guard: a weak identifier may not join people whose first names differ. record_num: the record's
    integer node id, as in int_identifiers_observed. Incremental by record like int_identifiers_observed, with the
    same scope (int_identity_scope_records says why it is complete) and the same _staged_through. -#}
{{ scoped_incremental_config('record_num', 'int_identity_scope_records') }}
{%- set sources = identifier_sources() | selectattr('first_name', 'defined') | list -%}
with
{% for s in sources %}
{{ s.source_name }} as (
    select * from {{ ref(s.model) }}
),
{% endfor %}

named as (
    {%- for s in sources %}
    select
        {{ record_node("'" ~ s.source_name ~ "'", 'cast(' ~ s.record_id ~ ' as ' ~ cdp_type_string() ~ ')') }}
            as record_key,
        lower(trim({{ s.first_name }})) as first_name
    from {{ s.source_name }}
    where {{ s.first_name }} is not null
    {%- if is_incremental() %}
        and cast({{ s.record_id }} as {{ cdp_type_string() }}) in (
            select source_record_id from {{ ref('int_identity_scope_records') }} where source_name = '{{ s.source_name }}')
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

distinct_names as (
    select distinct record_key, first_name from named
),

final as (
    select
        record_key,
        {{ record_node_id('record_key') }} as record_num,
        first_name,
        {{ identity_staged_through() }} as _staged_through
    from distinct_names
)

select * from final
