-- An album's track count is consistent: dim_album.tracks_in_catalogue equals the album's rows in
-- dim_track, and an album whose tracks were crawled has all of them (Spotify's total_tracks).
-- Returns the albums that break either rule.
with counted as (
    select album_id, count(*) as tracks_in_dim_track
    from {{ ref('dim_track') }}
    group by album_id
)

select
    albums.album_id,
    albums.total_tracks,
    albums.tracks_in_catalogue,
    coalesce(counted.tracks_in_dim_track, 0) as tracks_in_dim_track
from {{ ref('dim_album') }} as albums
left join counted on counted.album_id = albums.album_id
where albums.tracks_in_catalogue != coalesce(counted.tracks_in_dim_track, 0)
   or (albums.tracks_in_catalogue > 0 and albums.tracks_in_catalogue != albums.total_tracks)
