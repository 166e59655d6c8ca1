{#- Post-hook of int_profile_traits_summarised, the last model that reads the profile scope: the scope then keeps
    only current persons. A vanished person (merged away, or erased: macros/privacy/erasure.sql) is in the scope
    so that every scoped model deletes their stored rows; once they have, the id has no use, and an erased
    person's id must not stay anywhere in the warehouse. Engines whose tables cannot DELETE build the profile
    models in full and run no erasure (spark__delete_erased_rows fails loudly), so there is nothing to do. -#}
{% macro forget_vanished_scope_persons(scope) -%}
    {%- if staging_materialization() == 'incremental' -%}
    delete from {{ ref(scope) }} where person_id not in (select person_id from {{ this }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
