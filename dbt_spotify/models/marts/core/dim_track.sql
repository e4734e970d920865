{#- The largest table and a pure function of each track's latest staging row: incremental merge,
    touching only tracks whose bronze rows are as new as the newest this table has seen or newer
    (latest_bronze_version says why the watermark itself is included). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='merge',
    unique_key='track_id',
    on_schema_change='fail'
) }}

select
    track_id,
    track_name,
    album_id,
    primary_artist_id,
    artist_count,
    disc_number,
    track_number,
    duration_ms,
    explicit,
    is_local,
    is_playable,
    popularity,
    preview_url,
    isrc,
    spotify_url,
    spotify_uri,
    _last_loaded_at
from {{ ref('stg_spotify__tracks') }}
{% if is_incremental() %}
where _last_loaded_at >= (
    select coalesce(max(_last_loaded_at), timestamp'1970-01-01 00:00:00') from {{ this }}
)
{% endif %}
