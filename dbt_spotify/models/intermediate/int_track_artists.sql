{#- One row per (track, credited artist), with the 1-based credit position. posexplode_outer
    keeps a track whose artist list is empty (one row with a null artist) so nothing disappears
    silently; the gold bridge keeps only real credits. -#}
select
    tracks.track_id,
    credit.pos + 1 as artist_position,
    credit.col.id as artist_id,
    credit.col.name as artist_name
from {{ ref('stg_spotify__tracks') }} as tracks
lateral view posexplode_outer(tracks.artists) credit as pos, col
