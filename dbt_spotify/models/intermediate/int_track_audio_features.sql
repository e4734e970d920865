{#- Audio features per catalogue track: the API's when Spotify returned them, else the imported
    CSV's, else none. A track takes all its values from one source (never mixed), recorded in
    features_source. -#}
with tracks as (
    select track_id from {{ ref('stg_spotify__tracks') }}
),

api as (
    -- A features object with no values at all (Spotify's batch answer for an unknown id) is
    -- no features.
    select * from {{ ref('stg_spotify__audio_features') }}
    where danceability is not null or energy is not null or tempo is not null
),

imported as (
    select * from {{ ref('stg_spotify__imported_audio_features') }}
)

select
    tracks.track_id,
    case
        when api.track_id is not null then 'api'
        when imported.track_id is not null then 'imported'
    end as features_source,
    {%- for column in ['danceability', 'energy', 'key', 'loudness', 'mode', 'speechiness',
                       'acousticness', 'instrumentalness', 'liveness', 'valence', 'tempo',
                       'time_signature'] %}
    case when api.track_id is not null then api.{{ column }} else imported.{{ column }} end
        as {{ column }},
    {%- endfor %}
    (api.track_id is not null or imported.track_id is not null) as has_audio_features
from tracks
left join api on api.track_id = tracks.track_id
left join imported on imported.track_id = tracks.track_id
