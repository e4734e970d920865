{#- One row per (album, credited artist) with the credit position; see int_track_artists. -#}
select
    albums.album_id,
    credit.pos + 1 as artist_position,
    credit.col.id as artist_id,
    credit.col.name as artist_name
from {{ ref('stg_spotify__albums') }} as albums
lateral view posexplode_outer(albums.artists) credit as pos, col
