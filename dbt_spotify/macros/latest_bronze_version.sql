{#- The latest version of every document in a bronze entity table (one row per id).

    Bronze holds one row per document version. The newest `ingested_at` wins (ties broken by the
    later export, then the hash, so the choice is deterministic).

    Incremental runs look only at ids that have a bronze row loaded at or after the newest one
    this model has seen (`_last_loaded_at`), and re-rank ALL versions of those ids: the merge
    then writes exactly the row a full refresh would, even when a late replay of an old version
    arrives. "At or after", not "after": a CSV import stamps all its chunks with one
    `imported_at`, so a build that ran between two chunks must still read the later ones; for
    the bronze export (one stamp per chunk) it is simply the bound that can never skip a row.

    `watermark`: the model's merge_watermark(), when the model has read it already.

    With `target_key` (the model's unique key), an id whose winning version this model already
    holds, with the same `_last_loaded_at`, is dropped before its payload is parsed: those are
    the rows at the watermark, merged by an earlier run. Merging them again would change no
    value but would rewrite every Delta file holding one of them, which after a small crawl is
    most of the table. The winner's bronze bookkeeping (hash, ingested_at, source, crawl, batch,
    export time) identifies the bronze row, and the model's row is a function of that row and
    `_last_loaded_at`, so equal bookkeeping means an equal row. -#}
{% macro latest_bronze_version(relation, id_column='id', loaded_at='exported_at',
                               order_by='ingested_at desc, exported_at desc, content_hash desc',
                               target_key=none, watermark=none) %}
    {%- if is_incremental() and watermark is none %}
        {%- set watermark = merge_watermark() %}
    {%- endif %}
    select ranked.*
    from (
        select
            versions.*,
            max({{ loaded_at }}) over (partition by {{ id_column }}) as _last_loaded_at,
            row_number() over (partition by {{ id_column }} order by {{ order_by }})
                as _version_rank
        from {{ relation }} as versions
        {% if is_incremental() %}
        where {{ id_column }} in (
            select {{ id_column }} from {{ relation }} where {{ loaded_at }} >= {{ watermark }}
        )
        {% endif %}
    ) as ranked
    {% if target_key is not none %}
    {{ skip_rows_already_merged(watermark, [
        (target_key, 'ranked.' ~ id_column),
        ('_content_hash', 'ranked.content_hash'),
        ('_ingested_at', 'ranked.ingested_at'),
        ('_source', 'ranked.source'),
        ('_crawl_id', 'ranked.crawl_id'),
        ('_batch_id', 'ranked.batch_id'),
        ('_exported_at', 'ranked.exported_at'),
        ('_last_loaded_at', 'ranked._last_loaded_at'),
    ]) }}
    {% endif %}
{% endmacro %}

{#- The newest `_last_loaded_at` an incremental model holds (its rows at the watermark were
    written by an earlier run), read once per model and written into the SQL as a constant.
    Delta skips files by their min/max statistics only when compared with a constant, not with
    a subquery: with it, an incremental run reads only the bronze files loaded at or after the
    watermark to find the ids to re-rank, and only the model's files holding rows at the
    watermark to find those already merged. Microseconds since the epoch keep it exact and
    independent of the session time zone. -#}
{% macro merge_watermark() -%}
    {%- set micros = 0 -%}
    {%- if execute -%}
        {%- set result = run_query(
                'select coalesce(unix_micros(max(_last_loaded_at)), 0) from ' ~ this) -%}
        {%- set micros = result.columns[0].values()[0] | int -%}
    {%- endif -%}
    {{- return('timestamp_micros(' ~ micros ~ ')') -}}
{%- endmacro %}

{#- On an incremental run, drop the candidate rows the model already holds with equal values in
    every (model column, candidate expression) pair, so the merge rewrites only the files with a
    changed row (new rows go to new files). Only the model's rows at its `watermark`
    (merge_watermark()) can be equal, since every candidate's `_last_loaded_at` is at or after
    it, so only those are compared. Null-safe: a null equals a null, as in a full refresh. -#}
{% macro skip_rows_already_merged(watermark, column_pairs) -%}
    {%- if is_incremental() %}
    left anti join (
        select * from {{ this }} where _last_loaded_at >= {{ watermark }}
    ) as already_merged
        on {% for model_column, candidate in column_pairs -%}
        {{- ' and ' if not loop.first }}already_merged.{{ model_column }} <=> {{ candidate }}
        {%- endfor %}
    {%- endif %}
{%- endmacro %}

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
