{{ config(unique_key='track_id') }}

with bronze as (
    {% if bronze_table_exists('audio_features') %}
    select * from {{ source('spotify', 'audio_features') }}
    {% else %}
    {{ empty_bronze_entity() }}
    {% endif %}
),

latest as (
    {{ latest_bronze_version('bronze', target_key='track_id') }}
),

parsed as (
    select
        id,
        {{ parse_payload('payload', spotify_audio_features_schema) }} as features,
        content_hash, ingested_at, source, crawl_id, batch_id, exported_at, _last_loaded_at
    from latest
    where _version_rank = 1
)

select
    id as track_id,
    features.danceability as danceability,
    features.energy as energy,
    features.key as key,
    features.loudness as loudness,
    features.mode as mode,
    features.speechiness as speechiness,
    features.acousticness as acousticness,
    features.instrumentalness as instrumentalness,
    features.liveness as liveness,
    features.valence as valence,
    features.tempo as tempo,
    features.time_signature as time_signature,
    features.duration_ms as duration_ms,
    content_hash as _content_hash,
    ingested_at as _ingested_at,
    source as _source,
    crawl_id as _crawl_id,
    batch_id as _batch_id,
    exported_at as _exported_at,
    _last_loaded_at
from parsed
