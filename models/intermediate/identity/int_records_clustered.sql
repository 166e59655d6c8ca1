{{ config(materialized='connected_components', incremental_components=true) }}
{#- Pass 2: records joined through every identifier the merge rules allow, strong and weak. -#}
{{ identity_edges('int_identifiers_decided', strong_only=false) }}
