{{ config(unique_key='track_id') }}

with latest as (
    {{ latest_bronze_version(source('spotify', 'tracks'), target_key='track_id') }}
),

parsed as (
    select
        id,
        {{ parse_payload('payload', spotify_track_schema) }} as track,
        content_hash, ingested_at, source, crawl_id, batch_id, exported_at, _last_loaded_at
    from latest
    where _version_rank = 1
)

select
    id as track_id,
    track.name as track_name,
    track.album.id as album_id,
    track.artists as artists,
    get(track.artists, 0).id as primary_artist_id,
    size(coalesce(track.artists, array())) as artist_count,
    track.disc_number as disc_number,
    track.track_number as track_number,
    track.duration_ms as duration_ms,
    track.explicit as explicit,
    track.is_local as is_local,
    track.is_playable as is_playable,
    track.popularity as popularity,
    track.preview_url as preview_url,
    track.external_ids.isrc as isrc,
    track.external_urls.spotify as spotify_url,
    track.uri as spotify_uri,
    content_hash as _content_hash,
    ingested_at as _ingested_at,
    source as _source,
    crawl_id as _crawl_id,
    batch_id as _batch_id,
    exported_at as _exported_at,
    _last_loaded_at
from parsed
