with albums as (
    select * from {{ ref('stg_spotify__albums') }}
),

catalogue_tracks as (
    select album_id, count(*) as tracks_in_catalogue
    from {{ ref('stg_spotify__tracks') }}
    group by album_id
)

select
    albums.album_id,
    albums.album_name,
    albums.album_type,
    get(albums.artists, 0).id as primary_artist_id,
    size(coalesce(albums.artists, array())) as artist_count,
    albums.total_tracks,
    coalesce(catalogue_tracks.tracks_in_catalogue, 0) as tracks_in_catalogue,
    albums.release_date,
    -- The precision of release_date, which readers show it at: Spotify's stated one can be
    -- finer than the date string ("1990" at day precision) or upper case.
    {{ effective_release_date_precision('albums.release_date_raw', 'albums.release_date_precision') }}
        as release_date_precision,
    albums.release_date_raw,
    albums.release_year,
    albums.label,
    albums.popularity,
    albums.upc,
    albums.image_url,
    albums.spotify_url,
    albums.spotify_uri
from albums
left join catalogue_tracks on catalogue_tracks.album_id = albums.album_id
