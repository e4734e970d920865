{#- Every artist the catalogue knows: the crawled ones with their attributes, plus artists only
    known from a credit on a crawled track or album (is_crawled = false, attributes null), so the
    bridges always point at a dimension row. -#}
with crawled as (
    -- Genres cleaned as in int_artist_genres / bridge_artist_genre, so genre_count agrees with
    -- the bridge (mart_entity_counts counts artists without genres from it).
    select
        *,
        array_sort(array_distinct(filter(
            transform(coalesce(genres, cast(array() as array<string>)), g -> lower(trim(g))),
            g -> g is not null and g != ''
        ))) as clean_genres
    from {{ ref('stg_spotify__artists') }}
),

credited as (
    select artist_id, min(artist_name) as artist_name
    from (
        select artist_id, artist_name from {{ ref('int_track_artists') }}
        union all
        select artist_id, artist_name from {{ ref('int_album_artists') }}
    )
    where artist_id is not null
    group by artist_id
)

select
    coalesce(crawled.artist_id, credited.artist_id) as artist_id,
    coalesce(crawled.artist_name, credited.artist_name) as artist_name,
    -- Spotify marks artist.genres deprecated: a payload without the key says nothing about the
    -- artist's genres, so it stays null (unknown), unlike an empty list (none).
    case when crawled.genres is not null then crawled.clean_genres end as genres,
    case when crawled.genres is not null then size(crawled.clean_genres) end as genre_count,
    crawled.popularity,
    crawled.followers,
    crawled.image_url,
    crawled.spotify_url,
    crawled.spotify_uri,
    crawled.artist_id is not null as is_crawled
from crawled
full outer join credited on credited.artist_id = crawled.artist_id
