{{ config(unique_key='artist_id') }}

with latest as (
    {{ latest_bronze_version(source('spotify', 'artists'), target_key='artist_id') }}
),

parsed as (
    select
        id,
        {{ parse_payload('payload', spotify_artist_schema) }} as artist,
        content_hash, ingested_at, source, crawl_id, batch_id, exported_at, _last_loaded_at
    from latest
    where _version_rank = 1
)

select
    id as artist_id,
    artist.name as artist_name,
    artist.genres as genres,
    artist.popularity as popularity,
    artist.followers.total as followers,
    get(artist.images, 0).url as image_url,
    artist.external_urls.spotify as spotify_url,
    artist.uri as spotify_uri,
    content_hash as _content_hash,
    ingested_at as _ingested_at,
    source as _source,
    crawl_id as _crawl_id,
    batch_id as _batch_id,
    exported_at as _exported_at,
    _last_loaded_at
from parsed
