{#- Layer schemas (bronze, silver, gold, gold_audit) are used as they are, not prefixed with the
    target schema: Dremio, ml/ and app/ address `gold.<model>` directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
