{#- Genre distribution and audio profile: per genre, how many artists and tracks, how popular,
    and the average audio features of its tracks (tracks count once per genre of any credited
    artist). -#}
with genre_tracks as (
    select distinct genres.genre, credits.track_id
    from {{ ref('bridge_artist_genre') }} as genres
    inner join {{ ref('bridge_track_artist') }} as credits on credits.artist_id = genres.artist_id
),

genre_artists as (
    select genres.genre, count(*) as artist_count, avg(artists.popularity) as avg_artist_popularity
    from {{ ref('bridge_artist_genre') }} as genres
    inner join {{ ref('dim_artist') }} as artists on artists.artist_id = genres.artist_id
    group by genres.genre
)

select
    genre_artists.genre,
    genre_artists.artist_count,
    count(genre_tracks.track_id) as track_count,
    count(features.track_id) as tracks_with_features,
    genre_artists.avg_artist_popularity,
    avg(tracks.popularity) as avg_track_popularity,
    avg(features.danceability) as avg_danceability,
    avg(features.energy) as avg_energy,
    avg(features.valence) as avg_valence,
    avg(features.acousticness) as avg_acousticness,
    avg(features.instrumentalness) as avg_instrumentalness,
    avg(features.speechiness) as avg_speechiness,
    avg(features.liveness) as avg_liveness,
    avg(features.loudness) as avg_loudness,
    avg(features.tempo) as avg_tempo
from genre_artists
left join genre_tracks on genre_tracks.genre = genre_artists.genre
left join {{ ref('dim_track') }} as tracks on tracks.track_id = genre_tracks.track_id
left join {{ ref('fct_track_features') }} as features on features.track_id = genre_tracks.track_id
group by genre_artists.genre, genre_artists.artist_count, genre_artists.avg_artist_popularity
