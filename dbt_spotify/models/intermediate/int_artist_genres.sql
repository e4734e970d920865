{#- One row per (crawled artist, genre). explode_outer keeps artists without genres (genre null),
    so "artists with no genre" stay countable; the gold bridge keeps only real genres. -#}
select distinct
    artists.artist_id,
    lower(trim(genre.col)) as genre
from {{ ref('stg_spotify__artists') }} as artists
lateral view explode_outer(artists.genres) genre as col
