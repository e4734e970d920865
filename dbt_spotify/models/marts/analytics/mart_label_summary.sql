{#- Record labels: albums, tracks and artists per label and the years they span. Empty for
    development-mode data (no label). -#}
select
    albums.label,
    count(*) as album_count,
    -- From dim_album's per-album count, not a join to dim_track: a join would weight each
    -- album's popularity below by its number of tracks.
    sum(albums.tracks_in_catalogue) as track_count,
    count(distinct albums.primary_artist_id) as artist_count,
    min(albums.release_year) as first_release_year,
    max(albums.release_year) as last_release_year,
    avg(albums.popularity) as avg_album_popularity
from {{ ref('dim_album') }} as albums
where albums.label is not null
group by albums.label
