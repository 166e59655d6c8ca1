{#- A cheap integer hash of a string, for order-independent fingerprints of a set (count plus the sum of its
    members' hashes): the profile scope (int_profile_scope_persons) compares each person's set of records
    with the set stored by the last build. 40 bits, so a person's sum cannot overflow a bigint before eight
    million records; a change that keeps both the count and the sum is a one-in-10^12 event per person. -#}
{% macro cdp_fingerprint_hash(expr) -%}
    {{ return(adapter.dispatch('cdp_fingerprint_hash', 'cdp')(expr)) }}
{%- endmacro %}
{% macro default__cdp_fingerprint_hash(expr) -%}cast(hash({{ expr }}) % 1099511627776 as bigint){%- endmacro %}
{% macro spark__cdp_fingerprint_hash(expr) -%}pmod(xxhash64({{ expr }}), 1099511627776){%- endmacro %}
{% macro snowflake__cdp_fingerprint_hash(expr) -%}mod(abs(hash({{ expr }})), 1099511627776){%- endmacro %}
{% macro bigquery__cdp_fingerprint_hash(expr) -%}mod(abs(farm_fingerprint({{ expr }})), 1099511627776){%- endmacro %}
