{#- Record labels: albums, tracks and artists per label and the years they span. Empty for
    development-mode data (no label). -#}
select
    albums.label,
    count(distinct albums.album_id) as album_count,
    count(tracks.track_id) as track_count,
    count(distinct albums.primary_artist_id) as artist_count,
    min(albums.release_year) as first_release_year,
    max(albums.release_year) as last_release_year,
    avg(albums.popularity) as avg_album_popularity
from {{ ref('dim_album') }} as albums
left join {{ ref('dim_track') }} as tracks on tracks.album_id = albums.album_id
where albums.label is not null
group by albums.label
