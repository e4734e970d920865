{{ config(unique_key='album_id') }}

with latest as (
    {{ latest_bronze_version(source('spotify', 'albums'), target_key='album_id') }}
),

parsed as (
    select
        id,
        {{ parse_payload('payload', spotify_album_schema) }} as album,
        content_hash, ingested_at, source, crawl_id, batch_id, exported_at, _last_loaded_at
    from latest
    where _version_rank = 1
)

select
    id as album_id,
    album.name as album_name,
    album.album_type as album_type,
    album.album_group as album_group,
    album.total_tracks as total_tracks,
    album.release_date as release_date_raw,
    lower(album.release_date_precision) as release_date_precision,
    {{ release_date_from_precision('album.release_date', 'album.release_date_precision') }}
        as release_date,
    {{ release_year_from_date('album.release_date') }} as release_year,
    album.artists as artists,
    nullif(trim(album.label), '') as label,
    album.popularity as popularity,
    album.external_ids.upc as upc,
    get(album.images, 0).url as image_url,
    album.external_urls.spotify as spotify_url,
    album.uri as spotify_uri,
    content_hash as _content_hash,
    ingested_at as _ingested_at,
    source as _source,
    crawl_id as _crawl_id,
    batch_id as _batch_id,
    exported_at as _exported_at,
    _last_loaded_at
from parsed
