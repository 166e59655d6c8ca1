{#- Scope of the record-keyed identity models (int_identifiers_observed, int_records_named): the records whose
    rows could differ from a full build on this run. Why the list is complete: a record's observations and
    first name are a function of its one staged row, and that row can differ only when
    - staging re-staged its key (a new record, a new version or copy, a changed raw row, a quarantined new
      version, a moved as-of cut: staging deletes and re-stages the whole key, stamping every row of it with
      the run's start in _staged_at): a base row staged after the stored tables' _staged_through (the latest
      _staged_at they were built from; runs never overlap and each lasts more than the second _staged_at
      counts in, so a later run's rows are strictly later); or
    - it no longer stages (raw row deleted upstream, an erasure deleting base rows after their build, a key
      re-staged as quarantined): a record in a stored table that no stg_ model carries (reason vanished).
    The stored tables are read by name as the previous run left them. Before they exist (first build) the
    models build in full and this scope is empty; a stored table without _staged_through (an older build)
    puts every staged record in scope. -#}
{%- set sources = identifier_sources() -%}
{#- parsed without a warehouse: name every input outside the branches below, so dbt orders them first -#}
{%- for s in sources %}{% set _base = ref(s.base) %}{% set _staged = ref(s.model) %}{% endfor -%}
{%- set observed = identity_stored('int_identifiers_observed') -%}
{%- set named = identity_stored('int_records_named') -%}
{%- set watermarked = identity_has_column(observed, '_staged_through') and identity_has_column(named, '_staged_through') -%}
with
{%- if watermarked %}
staged_through as (
    select case when o.w is null or n.w is null then null when o.w < n.w then o.w else n.w end as w
    from (select max(_staged_through) as w from {{ observed }}) as o
    cross join (select max(_staged_through) as w from {{ named }}) as n
),
{%- endif %}

restaged as (
    {%- for s in sources %}
    select distinct
        '{{ s.source_name }}' as source_name,
        cast(base.{{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id,
        {{ identity_record_key(s, 'base') }} as record_key
    from {{ ref(s.base) }} as base
    {%- if watermarked %}
    cross join staged_through
    {%- endif %}
    where base.{{ s.record_id }} is not null
    {%- if observed is none or named is none %}
        and 1 = 0  -- first build: the models build in full and do not read this scope
    {%- endif %}
    {%- if watermarked %}
        and (staged_through.w is null or base._staged_at > staged_through.w)
    {%- endif %}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

{% if observed is not none and named is not none %}
current_records as (
    {%- for s in sources %}
    select {{ identity_record_key(s, 'staged') }} as record_key
    from {{ ref(s.model) }} as staged
    where staged.{{ s.record_id }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

stored_records as (
    select record_key from {{ observed }}
    union
    select record_key from {{ named }}
),

vanished as (
    select stored_records.record_key
    from stored_records
    left join current_records
        on current_records.record_key = stored_records.record_key
    where current_records.record_key is null
),
{% else %}
vanished as (
    select record_key from restaged where 1 = 0
),
{% endif %}

final as (
    select
        coalesce(restaged.record_key, vanished.record_key) as record_key,
        {{ record_node_id('coalesce(restaged.record_key, vanished.record_key)') }} as record_num,
        restaged.source_name,
        restaged.source_record_id,
        case when vanished.record_key is not null then 'vanished' else 'restaged' end as reason
    from restaged
    full outer join vanished
        on vanished.record_key = restaged.record_key
)

select * from final
