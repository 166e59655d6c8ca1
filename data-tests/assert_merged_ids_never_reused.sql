-- An id that was merged away never comes back as a current person id.
-- In Dagster this test is a check on person_id_history, the model it guards.
{{ config(meta={"dagster": {"ref": {"name": "person_id_history"}}}) }}
select history.from_person_id
from {{ ref('person_id_history') }} as history
inner join {{ ref('customer_profiles') }} as profiles
    on profiles.person_id = history.from_person_id
where history.change_type = 'merge'
