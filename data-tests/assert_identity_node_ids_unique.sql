-- The identity graph's integer node ids (cdp_node_id: 60 bits of an MD5) name one node each: one record key
-- per record_num, one (type, value) per identifier_num, and no id is both. A collision would merge two nodes.
{{ config(group="identity", meta={"dagster": {"ref": {"name": "int_identifiers_observed"}}}) }}
with observed as (
    select * from {{ ref('int_identifiers_observed') }}
),

record_ids as (
    select record_num as node_id, count(distinct record_key) as keys
    from observed
    group by record_num
),

identifier_ids as (
    select identifier_num as node_id, count(distinct {{ identifier_node('identifier_type', 'identifier_value') }}) as keys
    from observed
    group by identifier_num
),

collisions as (
    select node_id, 'record_num names several records' as problem from record_ids where keys > 1
    union all
    select node_id, 'identifier_num names several values' as problem from identifier_ids where keys > 1
    union all
    select record_ids.node_id, 'a record and a value share an id' as problem
    from record_ids
    inner join identifier_ids
        on identifier_ids.node_id = record_ids.node_id
)

select * from collisions
