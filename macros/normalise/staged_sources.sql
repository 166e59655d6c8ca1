{#- The raw sources, their base model and record key: one list that quality marts iterate over. -#}
{% macro staged_sources() -%}
    {{ return([
        {'source_name': 'crm_contacts', 'base': 'base_crm__contacts', 'key': 'crm_contact_id', 'email': true, 'phone': true},
        {'source_name': 'shop_customers', 'base': 'base_shop__customers', 'key': 'shop_customer_id', 'email': true, 'phone': true},
        {'source_name': 'shop_orders', 'base': 'base_shop__orders', 'key': 'shop_order_id', 'email': true, 'phone': false},
        {'source_name': 'web_events', 'base': 'base_web__events', 'key': 'web_event_id', 'email': true, 'phone': false},
        {'source_name': 'support_tickets', 'base': 'base_support__tickets', 'key': 'support_ticket_id', 'email': true, 'phone': true},
        {'source_name': 'email_consents', 'base': 'base_email__consents', 'key': 'email_consent_event_id', 'email': true, 'phone': false},
    ]) }}
{%- endmacro %}
