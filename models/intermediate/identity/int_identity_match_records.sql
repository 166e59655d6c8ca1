{#- The named records the probabilistic tier compares (var identity_match_sources: CRM contacts, shop accounts,
    support tickets), one row per record with its deterministic cluster (pass 2 of the graph) and its match
    attributes normalised for comparison: lower case, trimmed; an email split into its local part and domain; a
    full name split at its first space into first and last name; a phone, city or country the record lacks taken
    from its cluster. Only records the graph holds (at least one usable
    identifier) take part, since only they can be given a person. -#}
{%- set match_sources = var('identity_match_sources') -%}
{%- set sources = identifier_sources() | selectattr('source_name', 'in', match_sources.keys() | list) | list -%}
with strong_clusters as (
    select * from {{ ref('int_records_clustered_strong') }}
),

clusters as (
    select * from {{ ref('int_records_clustered') }}
),

{% for s in sources %}
{%- set m = match_sources[s.source_name] %}
{{ s.source_name }} as (
    select
        {{ identity_record_key(s, 'staged') }} as record_key,
        '{{ s.source_name }}' as source_name,
        cast(staged.{{ s.record_id }} as {{ cdp_type_string() }}) as source_record_id,
        {%- if m.get('full_name') %}
        {{ cdp_regex_replace_all('lower(trim(staged.' ~ m.full_name ~ '))', '\\s.*$', '') }} as first_name,
        case when trim(staged.{{ m.full_name }}) like '% %'
            then {{ cdp_regex_replace_all('lower(trim(staged.' ~ m.full_name ~ '))', '^\\S+\\s+', '') }} end as last_name,
        {%- else %}
        lower(trim({{ 'staged.' ~ m.first_name if m.get('first_name') else 'null' }})) as first_name,
        lower(trim({{ 'staged.' ~ m.last_name if m.get('last_name') else 'null' }})) as last_name,
        {%- endif %}
        {%- for attr in ['email', 'phone', 'city', 'country'] %}
        {{ 'lower(trim(staged.' ~ m[attr] ~ '))' if m.get(attr) else 'cast(null as ' ~ cdp_type_string() ~ ')' }} as {{ attr }}
        {{- ',' if not loop.last }}
        {%- endfor %}
    from {{ ref(s.model) }} as staged
),
{% endfor %}

named as (
    {%- for s in sources %}
    select * from {{ s.source_name }}
    where first_name is not null or last_name is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

clustered as (
    select
        named.*,
        {{ record_node_id('named.record_key') }} as record_num,
        clusters.component_id as cluster_id
    from named
    inner join strong_clusters
        on strong_clusters.node = {{ record_node_id('named.record_key') }}
    inner join clusters
        on clusters.node = strong_clusters.component_id
),

{#- What the deterministic graph already knows of the record's person fills what the record lacks: a ticket
    without a city or phone is compared with the city and phone of its cluster's other records (the smallest
    value, so the fill is the same on every build). -#}
cluster_facts as (
    select
        cluster_id,
        min(phone) as cluster_phone,
        min(city) as cluster_city,
        min(country) as cluster_country
    from clustered
    group by cluster_id
),

final as (
    select
        clustered.record_key,
        clustered.record_num,
        clustered.source_name,
        clustered.source_record_id,
        clustered.cluster_id,
        nullif(clustered.first_name, '') as first_name,
        nullif(clustered.last_name, '') as last_name,
        clustered.email,
        {{ cdp_regex_replace_all('clustered.email', '@.*$', '') }} as email_local,
        {{ cdp_regex_replace_all('clustered.email', '^[^@]*@', '') }} as email_domain,
        coalesce(clustered.phone, cluster_facts.cluster_phone) as phone,
        coalesce(clustered.city, cluster_facts.cluster_city) as city,
        coalesce(clustered.country, cluster_facts.cluster_country) as country
    from clustered
    inner join cluster_facts
        on cluster_facts.cluster_id = clustered.cluster_id
)

select * from final
