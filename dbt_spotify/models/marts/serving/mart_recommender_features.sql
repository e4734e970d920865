{#- The recommender's input (ml/): one row per track, columns fixed by docs/contracts.md. -#}
{%- set feature_columns = ['danceability', 'energy', 'key', 'loudness', 'mode', 'speechiness',
                           'acousticness', 'instrumentalness', 'liveness', 'valence', 'tempo',
                           'time_signature'] -%}
with credits as (
    select
        track_id,
        array_sort(collect_list(struct(artist_position, artist_id, artist_name))) as credits
    from {{ ref('bridge_track_artist') }}
    join {{ ref('dim_artist') }} using (artist_id)
    group by track_id
),

track_genres as (
    select credits.track_id, array_sort(collect_set(genres.genre)) as genres
    from {{ ref('bridge_track_artist') }} as credits
    inner join {{ ref('bridge_artist_genre') }} as genres on genres.artist_id = credits.artist_id
    group by credits.track_id
)

select
    tracks.track_id,
    tracks.track_name,
    coalesce(transform(credits.credits, c -> c.artist_id), cast(array() as array<string>))
        as artist_ids,
    coalesce(transform(credits.credits, c -> c.artist_name), cast(array() as array<string>))
        as artist_names,
    tracks.primary_artist_id,
    tracks.album_id,
    albums.album_name,
    albums.release_year,
    tracks.explicit,
    tracks.duration_ms,
    tracks.popularity,
    coalesce(track_genres.genres, cast(array() as array<string>)) as genres,
    {%- for column in feature_columns %}
    features.{{ column }},
    {%- endfor %}
    features.features_source,
    coalesce(features.has_audio_features, false) as has_audio_features
from {{ ref('dim_track') }} as tracks
left join {{ ref('dim_album') }} as albums on albums.album_id = tracks.album_id
left join credits on credits.track_id = tracks.track_id
left join track_genres on track_genres.track_id = tracks.track_id
left join {{ ref('int_track_audio_features') }} as features
    on features.track_id = tracks.track_id
