{#- Release-year trends: catalogue size, explicitness, length and sound per year of release. -#}
with years as (
    select release_year, count(*) as album_count
    from {{ ref('dim_album') }}
    where release_year is not null
    group by release_year
)

select
    years.release_year,
    years.album_count,
    count(tracks.track_id) as track_count,
    -- a double, not the decimal(6,5) that averaging 1.0/0.0 literals gives (pandas reads that
    -- as Decimal objects, which JSON encoders reject)
    avg(cast(tracks.explicit as double)) as explicit_share,
    avg(tracks.duration_ms) as avg_duration_ms,
    avg(tracks.popularity) as avg_track_popularity,
    count(features.track_id) as tracks_with_features,
    avg(features.danceability) as avg_danceability,
    avg(features.energy) as avg_energy,
    avg(features.valence) as avg_valence,
    avg(features.acousticness) as avg_acousticness,
    avg(features.loudness) as avg_loudness,
    avg(features.tempo) as avg_tempo
from years
inner join {{ ref('dim_album') }} as albums on albums.release_year = years.release_year
left join {{ ref('dim_track') }} as tracks on tracks.album_id = albums.album_id
left join {{ ref('fct_track_features') }} as features on features.track_id = tracks.track_id
group by years.release_year, years.album_count
