{{ config(materialized='connected_components', incremental_components=true) }}
{#- Pass 1: records joined through strong identifiers (CRM contact id, shop customer id, email) that the
    merge rules allow. Every record is a node (self-edge), so records without a strong identifier stay. -#}
{{ identity_edges('int_identifiers_screened', strong_only=true) }}
