{#- The latest version of every document in a bronze entity table (one row per id).

    Bronze holds one row per document version. The newest `ingested_at` wins (ties broken by the
    later export, then the hash, so the choice is deterministic).

    Incremental runs look only at ids that have a bronze row exported at or after the newest one
    this model has seen (`_last_loaded_at`), and re-rank ALL versions of those ids: the merge
    then writes exactly the row a full refresh would, even when a late replay of an old version
    arrives. "At or after", not "after": an export or CSV import stamps all its chunks with one
    time, so a build that ran between two chunks must read the later ones; re-reading the rows
    at the watermark merges the same values again. -#}
{% macro latest_bronze_version(relation, id_column='id', loaded_at='exported_at',
                               order_by='ingested_at desc, exported_at desc, content_hash desc') %}
    select
        versions.*,
        max({{ loaded_at }}) over (partition by {{ id_column }}) as _last_loaded_at,
        row_number() over (partition by {{ id_column }} order by {{ order_by }}) as _version_rank
    from {{ relation }} as versions
    {% if is_incremental() %}
    where {{ id_column }} in (
        select {{ id_column }} from {{ relation }}
        where {{ loaded_at }} >= (
            select coalesce(max(_last_loaded_at), timestamp'1970-01-01 00:00:00')
            from {{ this }}
        )
    )
    {% endif %}
{% endmacro %}

{#- True when a bronze table exists. audio_features (development-mode apps get none) and the
    imported features (only when a CSV was imported) may be absent; their staging models are
    then empty instead of failing the run. -#}
{% macro bronze_table_exists(table_name) %}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {#- Looked up by name, not through source(): unit tests replace source() with fixtures. -#}
    {%- set relation = adapter.get_relation(
            database=none, schema=env_var('DBT_BRONZE_SCHEMA', 'bronze'), identifier=table_name) -%}
    {{ return(relation is not none) }}
{% endmacro %}

{#- An empty relation with the columns of a bronze entity table. -#}
{% macro empty_bronze_entity() %}
    select
        cast(null as string) as id,
        cast(null as string) as payload,
        cast(null as string) as content_hash,
        cast(null as timestamp) as ingested_at,
        cast(null as string) as source,
        cast(null as string) as crawl_id,
        cast(null as string) as batch_id,
        cast(null as timestamp) as exported_at
    limit 0
{% endmacro %}
