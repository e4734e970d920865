{#- One row per catalogue track that has audio features (from the API or the imported CSV). -#}
select
    features.track_id,
    tracks.album_id,
    tracks.primary_artist_id,
    tracks.duration_ms,
    features.danceability,
    features.energy,
    features.key,
    features.loudness,
    features.mode,
    features.speechiness,
    features.acousticness,
    features.instrumentalness,
    features.liveness,
    features.valence,
    features.tempo,
    features.time_signature,
    features.features_source
from {{ ref('int_track_audio_features') }} as features
inner join {{ ref('stg_spotify__tracks') }} as tracks on tracks.track_id = features.track_id
where features.has_audio_features
