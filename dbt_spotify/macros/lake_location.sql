{#- Where the lake is. `lakehouse transform` exports DBT_LAKE_ROOT (settings.lake_uri); a bare
    `dbt build` run from dbt_spotify/ falls back to the default local lake, ../data/lake. -#}
{% macro lake_root() -%}
    {%- set root = env_var('DBT_LAKE_ROOT', '') | trim -%}
    {%- if not root -%}
        {%- set cwd = env_var('PWD', '') -%}
        {%- if cwd.rstrip('/').endswith('dbt_spotify') -%}
            {%- set root = 'file://' ~ cwd.rstrip('/') ~ '/../data/lake' -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "DBT_LAKE_ROOT is not set: run dbt through `lakehouse transform`, run it from the "
                ~ "dbt_spotify/ folder, or export DBT_LAKE_ROOT (e.g. file:///abs/data/lake).") }}
        {%- endif -%}
    {%- endif -%}
    {{- root.rstrip('/') -}}
{%- endmacro %}

{#- Every model is an external Delta table at <lake root>/<schema>/<model>, so silver and gold
    live beside bronze (and gold_audit beside gold) whatever Spark's warehouse dir is. The root is
    a path the user chose (e.g. under "O'Brien's laptop"): escaped as a Spark string literal. -#}
{% macro spark__location_clause() -%}
    {%- if config.get('materialized') != 'view' %}
    {%- set location = lake_root() ~ '/' ~ model.schema ~ '/' ~ model.alias %}
    location '{{ location | replace("\\", "\\\\") | replace("'", "\\'") }}'
    {%- endif %}
{%- endmacro %}
