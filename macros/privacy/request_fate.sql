{#- A privacy request's row fate. A request applies to every build from the moment it is filed, whatever
    the build's CDP_AS_OF: an erasure or suppression received after the as-of instant still erases or
    suppresses (a build of the past must not bring an erased person back). So request rows are never cut by
    the as-of instant (no after_as_of fate); duplicates, quarantine and versions work as for every source. -#}
{% macro privacy_request_fate() -%}
    {%- set s = raw_source('privacy_requests') -%}
    {%- set key = s.record_id if s.get('raw_key') else '_raw_row_hash' -%}
    {%- set stamp = 'coalesce(' ~ s.latest_by | join(', ') ~ ')' if s.latest_by | length > 1 else s.latest_by[0] -%}
    {{ row_fate(key, stamp ~ ' desc nulls last') }}
{%- endmacro %}
