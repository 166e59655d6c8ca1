-- An id that was merged away never comes back as a current person id.
select history.from_person_id
from {{ ref('person_id_history') }} as history
inner join {{ ref('customer_profiles') }} as profiles
    on profiles.person_id = history.from_person_id
where history.change_type = 'merge'
