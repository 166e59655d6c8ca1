-- Every staged record that carries an identifier is in person_records exactly once.
-- In Dagster this test is a check on person_records, the model it guards.
{{ config(group="identity", meta={"dagster": {"ref": {"name": "person_records"}}}) }}
with observed as (
    select distinct source_name, source_record_id from {{ ref('int_identifiers_observed') }}
),

mapped as (
    select source_name, source_record_id, count(*) as n
    from {{ ref('person_records') }}
    group by source_name, source_record_id
)

select observed.source_name, observed.source_record_id, mapped.n
from observed
left join mapped
    on mapped.source_name = observed.source_name
    and mapped.source_record_id = observed.source_record_id
where mapped.n is null or mapped.n <> 1
