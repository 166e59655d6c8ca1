{#- Sources whose rows are orders (a web shop's orders, a till's receipts): the registry entries that declare
    `orders`, SQL over the source's stg_ model columns: amount (in the reporting currency), ordered_at, and
    is_revenue (the order counts toward order_count and lifetime_value; `true` when every row is a sale).
    int_profile_orders gives them one shape; lifetime value, order counts and the predictions read that. -#}
{% macro order_sources() -%}
    {{ return(var('raw_sources') | selectattr('orders', 'defined') | list) }}
{%- endmacro %}
