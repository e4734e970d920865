{#- The largest table and a pure function of each track's latest staging row: incremental merge,
    touching only tracks whose staging rows are as new as the newest this table has seen or newer
    (latest_bronze_version says why the watermark itself is included), minus those this table
    already holds unchanged. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='track_id',
    on_schema_change='fail'
) }}

{%- set columns = [
    'track_id', 'track_name', 'album_id', 'primary_artist_id', 'artist_count', 'disc_number',
    'track_number', 'duration_ms', 'explicit', 'is_local', 'is_playable', 'popularity',
    'preview_url', 'isrc', 'spotify_url', 'spotify_uri', '_last_loaded_at',
] %}

select
    {%- for column in columns %}
    tracks.{{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref('stg_spotify__tracks') }} as tracks
{% if is_incremental() -%}
{#- Every column is compared: a row equal in all of them needs no merge. -#}
{%- set watermark = merge_watermark() %}
{%- set column_pairs = [] %}
{%- for column in columns %}{% do column_pairs.append((column, 'tracks.' ~ column)) %}{% endfor %}
{{ skip_rows_already_merged(watermark, column_pairs) }}
where tracks._last_loaded_at >= {{ watermark }}
{%- endif %}
